-- The dossiers of a list that belong to no other list: those deleted with the list. A function,
-- so that the count shown before deleting and the deletion itself ask exactly the same.
CREATE FUNCTION exclusive_dossiers(list BIGINT) RETURNS SETOF BIGINT AS $$
    SELECT x.dossier_id FROM dossier_watch_lists x
    WHERE x.watch_list_id = list AND NOT EXISTS (
        SELECT 1 FROM dossier_watch_lists y
        WHERE y.dossier_id = x.dossier_id AND y.watch_list_id <> list)
$$ LANGUAGE sql STABLE STRICT;
