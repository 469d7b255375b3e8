//! The writer's batching policy: which requests wait to share a commit, and for how long.

use super::*;
use crate::model::now;

fn finish_op() -> Op {
    let attempt = Attempt {
        n: 1,
        started_at: now(),
        duration_ms: 1,
        status: Some(200),
        error: None,
        response_headers: Vec::new(),
        response_body_base64: None,
        response_size: Some(0),
        note: None,
    };
    Op::Finish(
        Ulid::nil(),
        Box::new(attempt),
        Decision::Succeeded,
        oneshot::channel().0,
    )
}

fn log_op() -> Op {
    let record = Lifecycle::ConfigRejected {
        at: now(),
        path: "x".into(),
        error: None,
    };
    Op::Log(Box::new(record), oneshot::channel().0)
}

fn begin_op() -> Op {
    Op::Begin(Vec::new(), now(), oneshot::channel().0)
}

#[test]
fn only_attempt_results_wait_and_only_while_events_arrive() {
    let ms = Duration::from_millis;
    let flowing = Some(ms(2));
    assert_eq!(
        share_wait(flowing, &[finish_op(), finish_op()]),
        Some(ms(4))
    );
    assert_eq!(
        share_wait(Some(Duration::ZERO), &[finish_op()]),
        Some(ms(1))
    );
    assert_eq!(share_wait(Some(ms(60)), &[finish_op()]), Some(ms(10)));
    assert_eq!(share_wait(None, &[finish_op()]), None, "no capture lately");
    // A 413's sender waits for its `event.rejected` record; the relay for its attempts.
    assert_eq!(share_wait(flowing, &[finish_op(), log_op()]), None);
    assert_eq!(share_wait(flowing, &[finish_op(), begin_op()]), None);
}

#[test]
fn attempt_results_wait_for_the_next_request_and_take_it_along() {
    let (tx, mut rx) = mpsc::channel(8);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        tx.blocking_send(finish_op()).unwrap();
        tx.blocking_send(begin_op()).unwrap();
        tx.blocking_send(finish_op()).unwrap();
    });
    let mut batch = vec![finish_op()];
    let started = Instant::now();
    wait_for_capture(&mut rx, &mut batch, Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "it stopped waiting once one came"
    );
    sender.join().unwrap();
    // The result sent after it may be in this batch or the next.
    assert!(batch.len() >= 3, "{}", batch.len());
    assert!(matches!(batch[2], Op::Begin(..)));
}

#[test]
fn attempt_results_alone_wait_no_longer_than_told() {
    let (_tx, mut rx) = mpsc::channel::<Op>(8);
    let mut batch = vec![finish_op()];
    let started = Instant::now();
    wait_for_capture(&mut rx, &mut batch, Duration::from_millis(20));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(20), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(batch.len(), 1);
}
