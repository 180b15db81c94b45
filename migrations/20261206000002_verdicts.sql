-- Operators' verdicts on matches: "confirmed" (it is this person) or "rejected" (not this
-- person), and who last judged it and when: a verdict withdrawn leaves `verdict` empty with
-- who withdrew it and when, so that the withdrawal travels as the verdict did. A list's
-- calibration reads the confidences of its judged matches. On a Subscriber a verdict travels
-- up with the event (the trigger below queues the event again), so that the Leader's list
-- owners calibrate from every site; the later judgement wins.
ALTER TABLE events
    ADD COLUMN verdict    TEXT CHECK (verdict IN ('confirmed', 'rejected')),
    ADD COLUMN verdict_by TEXT CHECK (char_length(verdict_by) <= 300),
    ADD COLUMN verdict_at TIMESTAMPTZ,
    ADD CONSTRAINT events_verdict_whole
        CHECK ((verdict_by IS NULL) = (verdict_at IS NULL) AND (verdict IS NULL OR verdict_at IS NOT NULL)),
    ADD CONSTRAINT events_verdict_of_a_match CHECK (verdict_at IS NULL OR dossier_id IS NOT NULL);
-- The calibration of a list, and a dossier's verdicts.
CREATE INDEX events_verdicts ON events (watch_list_id, verdict_at) WHERE verdict IS NOT NULL;
CREATE INDEX events_verdicts_dossier ON events (dossier_id, verdict_at) WHERE verdict IS NOT NULL;

DROP TRIGGER events_hit_changed ON events;
CREATE TRIGGER events_hit_changed AFTER UPDATE ON events
    FOR EACH ROW WHEN (NEW.watch_list_id IS NOT NULL AND NEW.site_id IS NULL AND (
        OLD.dossier_id IS DISTINCT FROM NEW.dossier_id
        OR OLD.watch_list_id IS DISTINCT FROM NEW.watch_list_id
        OR OLD.confidence IS DISTINCT FROM NEW.confidence
        OR OLD.quality IS DISTINCT FROM NEW.quality
        OR OLD.acknowledged_at IS DISTINCT FROM NEW.acknowledged_at
        OR OLD.verdict_at IS DISTINCT FROM NEW.verdict_at))
    EXECUTE FUNCTION events_queue_hit();
