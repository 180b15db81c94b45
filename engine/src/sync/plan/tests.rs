//! Every branch of a run's decisions, in memory: the replica's state and the Leader's answers
//! made by hand, the plan's steps and the state's transitions checked one by one.

use super::*;
use crate::sync::state::RUN_BACKOFF;
use crate::sync::{LeaderList, RemoteDossier, ReplicaState};
use domain::watch_lists::ListSettings;

const LEADER: &str = "leader-installation";
const EPOCH: &str = "epoch-1";

fn replica() -> RunState {
    RunState {
        id: 7,
        watch_list_id: 3,
        remote_url: "http://leader:3000".into(),
        remote_list_id: 1,
        state: ReplicaState::Idle,
        cursor: 0,
        leader_epoch: None,
        leader_installation: Some(LEADER.into()),
        progress: None,
        resync_reason: None,
        confirmed_removals: None,
        verified_at: None,
        failures: 0,
        hold: None,
        items_done: 0,
        items_total: None,
        photos_done: 0,
        last_success_at: None,
        last_error: None,
        last_error_at: None,
        next_run_at: None,
    }
}

/// A replica that completed a run to revision `cursor` in epoch `EPOCH`.
fn synced(cursor: i64) -> RunState {
    RunState {
        cursor,
        leader_epoch: Some(EPOCH.into()),
        ..replica()
    }
}

fn leader(epoch: &str, revision: i64) -> LeaderInfo {
    LeaderInfo {
        kind: crate::sync::LEADER_KIND.into(),
        face_model: "face-v1".into(),
        face_vector_length: 4,
        installation_id: LEADER.into(),
        epoch: epoch.into(),
        revision,
    }
}

fn meet(info: &LeaderInfo) -> Meeting<'_> {
    Meeting {
        leader: info,
        own_installation: "this-installation",
        face_model: "face-v1",
        record: 42,
        list_has_members: true,
    }
}

fn begin(state: &RunState, info: &LeaderInfo) -> Begin {
    match start(state, &meet(info)).unwrap() {
        Start::Go(begin) => begin,
        Start::Hold(held) => panic!("held: {held:?}"),
    }
}

fn changes(epoch: &str, upserts: &[i64], removals: &[i64], next_after: Option<i64>) -> ChangePage {
    ChangePage {
        until: 90,
        epoch: epoch.into(),
        list: LeaderList {
            name: Some("Wanted".into()),
            settings: ListSettings::default(),
        },
        total: Some((upserts.len() + removals.len()) as i64),
        removals_total: Some(removals.len() as i64),
        upserts: upserts
            .iter()
            .map(|&id| RemoteDossier {
                id,
                name: format!("Dossier {id}"),
                comment: String::new(),
                active: true,
                meta: serde_json::json!({}),
                photos: Vec::new(),
            })
            .collect(),
        removals: removals.to_vec(),
        next_after,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn a_first_sync_is_a_full_resync_that_sweeps_a_list_with_members() {
    let info = leader(EPOCH, 50);
    let b = begin(&replica(), &info);
    assert!(!b.resumed && b.progress.full && b.progress.sweep);
    assert_eq!(b.why.as_deref(), Some("first sync"));
    assert_eq!(
        (b.progress.run, b.progress.until, b.progress.after),
        (42, None, 0)
    );
    assert_eq!(b.progress.epoch, EPOCH);
    let empty = Meeting {
        list_has_members: false,
        ..meet(&info)
    };
    let Start::Go(b) = start(&replica(), &empty).unwrap() else {
        panic!("held")
    };
    assert!(!b.progress.sweep, "an empty list has nothing to sweep");
}

#[test]
fn an_incremental_run_follows_the_cursor() {
    let b = begin(&synced(40), &leader(EPOCH, 50));
    assert!(!b.progress.full && !b.resumed);
    assert_eq!((&b.why, &b.reason), (&None, &None));
    let mut state = synced(40);
    b.apply(&mut state);
    assert_eq!(state.state, ReplicaState::Running);
    assert_eq!(state.progress, Some(b.progress));
}

#[test]
fn a_run_in_progress_is_resumed_in_its_epoch_and_begun_anew_in_another() {
    let mut state = synced(40);
    state.progress = Some(Progress {
        run: 30,
        full: true,
        sweep: true,
        epoch: EPOCH.into(),
        until: Some(60),
        after: 500,
    });
    state.items_done = 500;
    state.resync_reason = Some("first sync".into());
    let b = begin(&state, &leader(EPOCH, 70));
    assert!(b.resumed);
    assert_eq!(b.progress.after, 500);
    assert_eq!(
        b.reason.as_deref(),
        Some("first sync; resumes an interrupted run")
    );
    let mut resumed = state.clone();
    b.apply(&mut resumed);
    assert_eq!(resumed.items_done, 500, "a resumed run keeps its counts");

    // The Leader's history changed since: its pages belong to the old one.
    let b = begin(&state, &leader("epoch-2", 70));
    assert!(!b.resumed && b.progress.full);
    assert_eq!((b.progress.after, b.progress.run), (0, 42));
}

#[test]
fn a_leader_whose_history_went_back_is_resynced_from_scratch() {
    let b = begin(&synced(40), &leader("epoch-2", 50));
    assert!(b.progress.full);
    assert!(b.why.unwrap().contains("its epoch is now epoch-2"));
    let b = begin(&synced(40), &leader(EPOCH, 30));
    assert!(b.progress.full);
    assert!(b
        .why
        .unwrap()
        .contains("cursor 40 is ahead of the Leader's last revision 30"));
}

#[test]
fn a_resync_asked_for_is_a_full_one_with_its_reason() {
    let mut state = synced(40);
    state.resync_reason = Some("divergence after the run".into());
    let b = begin(&state, &leader(EPOCH, 50));
    assert!(b.progress.full);
    assert_eq!(b.reason.as_deref(), Some("divergence after the run"));
}

#[test]
fn another_leader_at_the_url_holds_the_run_until_an_administrator_confirms() {
    let mut info = leader(EPOCH, 50);
    info.installation_id = "someone-else".into();
    let Start::Hold(held) = start(&synced(40), &meet(&info)).unwrap() else {
        panic!("not held")
    };
    assert_eq!(held.kind, HoldKind::LeaderChanged);
    assert!(held.message.contains("someone-else") && held.message.contains(LEADER));
    let mut state = synced(40);
    state.hold(held);
    assert_eq!((state.state, state.next_run_at), (ReplicaState::Held, None));

    state.confirm_hold(now());
    assert_eq!(state.leader_installation.as_deref(), Some("someone-else"));
    assert_eq!((state.cursor, state.next_run_at), (0, Some(now())));
    let b = begin(&state, &info);
    assert!(b.progress.full);
    assert!(b
        .why
        .unwrap()
        .contains("accepted installation someone-else"));

    // A replica made before Leaders had ids adopts the one it meets.
    let mut unknown = synced(40);
    unknown.leader_installation = None;
    assert_eq!(
        begin(&unknown, &info).adopt.as_deref(),
        Some("someone-else")
    );
}

#[test]
fn another_model_or_this_installation_itself_is_refused() {
    let mut info = leader(EPOCH, 50);
    info.face_model = "arcface".into();
    let refused = start(&synced(40), &meet(&info)).unwrap_err().to_string();
    assert!(refused.contains("\"arcface\"") && refused.contains("\"face-v1\""));
    let mut info = leader(EPOCH, 50);
    info.installation_id = "this-installation".into();
    assert!(start(&synced(40), &meet(&info))
        .unwrap_err()
        .to_string()
        .contains("this installation itself"));
}

#[test]
fn a_cursor_the_leader_pruned_turns_an_incremental_run_into_a_full_one() {
    let mut state = synced(40);
    let b = begin(&state, &leader(EPOCH, 50));
    b.apply(&mut state);
    let why = cursor_gone(state.progress.as_ref().unwrap(), 40).unwrap();
    assert!(why.contains("since revision 40"));
    state.resync_from_scratch(why);
    let progress = state.progress.as_ref().unwrap();
    assert!(progress.full && progress.sweep && progress.until.is_none());
    assert_eq!(
        cursor_gone(progress, 0),
        None,
        "a full run cannot start over"
    );
}

#[test]
fn pages_go_on_after_their_last_dossier_and_stop_at_another_epoch() {
    let progress = begin(&synced(40), &leader(EPOCH, 50)).progress;
    let next = |p| page(&progress, &p);
    assert_eq!(
        next(changes(EPOCH, &[3, 9], &[5], Some(9))),
        Page::Apply { after: 9 }
    );
    assert_eq!(
        next(changes(EPOCH, &[3], &[12], None)),
        Page::Apply { after: 12 }
    );
    assert_eq!(
        next(changes(EPOCH, &[], &[], None)),
        Page::Apply { after: 0 }
    );
    assert_eq!(
        next(changes("epoch-2", &[3], &[], None)),
        Page::HistoryChanged
    );
    let mut state = synced(40);
    state.progress = Some(progress);
    state.drop_progress();
    assert_eq!(state.progress, None);
}

#[test]
fn a_run_removing_most_of_a_big_replica_is_held_and_a_confirmation_lets_it_go() {
    let full = begin(&replica(), &leader(EPOCH, 50)).progress;
    let first = changes(EPOCH, &[1], &[], Some(1));
    let mut facts = GuardFacts::default();
    assert_eq!(guard(&full, &first, 0.5, None, facts), Guard::CountReplica);
    facts.size = Some(300);
    assert_eq!(guard(&full, &first, 0.5, None, facts), Guard::CountRemovals);
    facts.removals = Some(250);
    let Guard::Hold(held) = guard(&full, &first, 0.5, None, facts) else {
        panic!("not held")
    };
    assert_eq!(
        (held.kind, held.removals),
        (HoldKind::MassRemoval, Some(250))
    );
    assert!(held
        .message
        .contains("remove 250 of the 300 dossiers of the replica (83 %, more than SYNC_MAX_DELETE_RATIO = 50 %)"));
    let mut state = synced(40);
    state.hold(held);
    state.confirm_hold(now());
    assert_eq!(state.confirmed_removals, Some(250));
    assert_eq!(guard(&full, &first, 0.5, Some(250), facts), Guard::Go);
    // Within the ratio, or a replica too small to guard.
    facts.removals = Some(150);
    assert_eq!(guard(&full, &first, 0.5, None, facts), Guard::Go);
    let small = GuardFacts {
        size: Some(100),
        removals: None,
    };
    assert_eq!(guard(&full, &first, 0.5, None, small), Guard::Go);
}

#[test]
fn an_incremental_run_with_few_removals_is_not_even_counted() {
    let incremental = begin(&synced(40), &leader(EPOCH, 50)).progress;
    let few = changes(EPOCH, &[], &[1, 2, 3], None);
    assert_eq!(
        guard(&incremental, &few, 0.5, None, GuardFacts::default()),
        Guard::Go
    );
    let many: Vec<i64> = (1..=80).collect();
    let many = changes(EPOCH, &[], &many, None);
    let facts = GuardFacts {
        size: Some(1000),
        removals: None,
    };
    assert_eq!(
        guard(&incremental, &many, 0.5, None, facts),
        Guard::Go,
        "at most 80 of 1000: within the ratio without asking the Leader"
    );
}

#[test]
fn dossiers_deleted_here_come_back_if_the_leader_still_has_them() {
    let answer = changes(EPOCH, &[4, 8], &[6], None);
    assert_eq!(restored(&[4, 6, 8], &answer), 2);
    assert_eq!(restored(&[6], &answer), 0);
}

#[test]
fn a_completed_run_moves_the_cursor_to_its_watermark_in_its_epoch() {
    let mut state = replica();
    state.failures = 2;
    state.last_error = Some("the Leader was away".into());
    let b = begin(&state, &leader("epoch-3", 50));
    b.apply(&mut state);
    state.first_page(90, Some(1500));
    state.applied(500, 500, 20);
    assert_eq!((state.items_done, state.photos_done), (500, 20));
    let next = now() + chrono::Duration::hours(17);
    assert_eq!(state.completed(now(), Some(next)), 90);
    assert_eq!(state.leader_epoch.as_deref(), Some("epoch-3"));
    assert_eq!((state.progress.clone(), state.failures), (None, 0));
    assert_eq!(
        (state.state, state.next_run_at),
        (ReplicaState::Idle, Some(next))
    );
    assert_eq!(
        (state.last_error.clone(), state.last_success_at),
        (None, Some(now()))
    );
}

#[test]
fn a_divergence_schedules_a_full_resync_at_once() {
    let digest = |until, dossiers, digest: &str| ListDigest {
        until,
        dossiers,
        digest: digest.into(),
    };
    let ours = digest(90, 10, "abc");
    assert_eq!(compare(&ours, &digest(90, 10, "abc"), 90), Verdict::Same);
    assert_eq!(
        compare(&ours, &digest(95, 11, "def"), 90),
        Verdict::NotComparable
    );
    let Verdict::Diverged(message) = compare(&ours, &digest(90, 11, "def"), 90) else {
        panic!("not diverged")
    };
    assert!(message.contains("the Leader has 11 dossier(s) (digest def), this replica 10"));
    let mut state = synced(90);
    state.diverged(&message, now());
    assert_eq!((state.cursor, state.next_run_at), (0, Some(now())));
    assert!(begin(&state, &leader(EPOCH, 95)).progress.full);
    // Verified after every full resync, otherwise once a day.
    assert!(verification_due(true, Some(now()), now()));
    assert!(!verification_due(false, Some(now()), now()));
    let yesterday = now() - chrono::Duration::hours(25);
    assert!(verification_due(false, Some(yesterday), now()));
}

#[test]
fn a_failure_keeps_the_progress_and_waits_longer_each_time() {
    let mut state = synced(40);
    let b = begin(&state, &leader(EPOCH, 50));
    b.apply(&mut state);
    state.applied(250, 250, 0);
    state.failed("the Leader at http://leader:3000 cannot be reached", now());
    assert_eq!((state.state, state.failures), (ReplicaState::Failed, 1));
    assert_eq!(
        state.next_run_at,
        Some(now() + chrono::Duration::seconds(30))
    );
    state.failed("again", now());
    assert_eq!(
        state.next_run_at,
        Some(now() + chrono::Duration::seconds(60))
    );
    assert_eq!(state.progress.as_ref().map(|p| p.after), Some(250));
    assert!(begin(&state, &leader(EPOCH, 50)).resumed);
    assert_eq!(RUN_BACKOFF.after(9).as_secs(), 3600);
}

#[test]
fn a_run_cut_by_a_stop_resumes_at_the_next_start() {
    let mut state = synced(40);
    let b = begin(&state, &leader(EPOCH, 50));
    b.apply(&mut state);
    state.applied(250, 250, 0);
    state.stopped(now());
    assert_eq!(
        (state.state, state.next_run_at),
        (ReplicaState::Idle, Some(now()))
    );
    let again = begin(&state, &leader(EPOCH, 55));
    assert!(again.resumed && again.progress.after == 250);
}

#[test]
fn a_rejected_hold_waits_for_the_schedule() {
    let mut info = leader(EPOCH, 50);
    info.installation_id = "someone-else".into();
    let Start::Hold(held) = start(&synced(40), &meet(&info)).unwrap() else {
        panic!("not held")
    };
    let mut state = synced(40);
    state.hold(held);
    let next = now() + chrono::Duration::hours(17);
    state.reject_hold(Some(next));
    assert_eq!(
        (state.state, state.hold.clone()),
        (ReplicaState::Idle, None)
    );
    assert_eq!(state.next_run_at, Some(next));
    assert_eq!(state.leader_installation.as_deref(), Some(LEADER));
}
