-- The dossier list page shows each row's lists in order. With the list id in the index, that is
-- an index-only scan that comes out sorted, instead of an index scan, heap fetches and a sort
-- for each of the page's rows.
DROP INDEX dossier_watch_lists_dossier;
CREATE INDEX dossier_watch_lists_dossier ON dossier_watch_lists (dossier_id, watch_list_id);
