"""The lakehouse's Delta tables: their schemas (:mod:`.schemas`) and how they are written (:mod:`.store`)."""
