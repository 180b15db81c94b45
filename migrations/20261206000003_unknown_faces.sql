-- Alerts for the unknown: a webhook may also ask for the faces nobody on the lists resembles,
-- from chosen cameras (an area that should be empty after hours). Their deliveries are
-- `face.unknown` bodies, without a dossier or list.
ALTER TABLE webhooks
    ADD COLUMN unknown_cameras TEXT[] NOT NULL DEFAULT '{}';
