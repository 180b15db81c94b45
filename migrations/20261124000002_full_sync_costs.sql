-- What a full resync records so that, at its end, it can remove what the Leader no longer sent
-- (`replica_seen`) is needed only when the replica held something when the run began: a first
-- sync into an empty list removes nothing, and skipping the bookkeeping saves a row, its index
-- entries and two foreign-key checks per dossier.
ALTER TABLE replicas ADD COLUMN run_sweep BOOLEAN NOT NULL DEFAULT TRUE;
