//! Issue item 4: a `subscription.*` event's effects commit only together with its own upsert,
//! decided on the state it commits over. Two events of one subscription are applied in both
//! orders one after the other, and "concurrently": both decided on the same pre-state before
//! either commits (a database layer holds their batches back), then committed in both orders.
//! The final state, oversights and clients included, is always that of the later `occurred_at`.

mod common;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use async_trait::async_trait;

use agent_id::app::Handled;
use agent_id::config::Config;
use agent_id::store::{Db, Outcome, Statement, StoreError};

use common::oauth::Client;
use common::paddle::*;
use common::*;

/// Holds back the first two webhook batches until both arrived, then lets them through in
/// `order` (arrival indexes). Later batches (re-decisions) pass straight through.
#[derive(Default)]
struct Gate {
    inner: RefCell<Option<Rc<dyn Db>>>,
    armed: Cell<bool>,
    arrived: Cell<usize>,
    committed: Cell<usize>,
    order: Cell<[usize; 2]>,
}

impl Gate {
    fn inner(&self) -> Rc<dyn Db> {
        self.inner.borrow().clone().expect("wrapped")
    }
}

#[async_trait(?Send)]
impl Db for Gate {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        self.inner().run(stmt).await
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        let webhook = stmts
            .iter()
            .any(|s| s.sql.contains("INSERT INTO webhook_events"));
        if !(self.armed.get() && webhook && self.arrived.get() < 2) {
            return self.inner().batch(stmts).await;
        }
        let me = self.arrived.get();
        self.arrived.set(me + 1);
        poll_fn(|cx| {
            let turn = self.committed.get();
            if self.arrived.get() >= 2 && turn < 2 && self.order.get()[turn] == me {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        let out = self.inner().batch(stmts).await;
        self.committed.set(self.committed.get() + 1);
        out
    }
}

/// How the two events reach the service.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// Earlier `occurred_at` first, each committed before the next is decided.
    InOrder,
    /// Later `occurred_at` first.
    Reversed,
    /// Both decided on the same state; the earlier event's batch commits first.
    ConcurrentEarlierCommitsFirst,
    /// Both decided on the same state; the later event's batch commits first.
    ConcurrentLaterCommitsFirst,
}

#[derive(Debug, PartialEq)]
struct Final {
    status: String,
    oversight: (i64, Option<String>),
    client: (i64, Option<String>),
}

fn deliver(earlier: (&str, &str), later: (&str, &str), how: Delivery) -> Final {
    let gate = Rc::new(Gate::default());
    let layer = {
        let gate = gate.clone();
        move |db: Rc<dyn Db>| {
            *gate.inner.borrow_mut() = Some(db);
            gate as Rc<dyn Db>
        }
    };
    let h = Harness::with_db_layer(Config::load(&vars(&[])), layer);
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_c", "PRO", PRICE_PRO);
    let a = h.register(&TestKey::random(), "A");
    h.claim(&o, &a);
    let client = Client::register(&h, "agent", &a.session, "C").id;

    let event = |(kind, status): (&str, &str), id: &str, t: i64| {
        envelope(
            id,
            &format!("subscription.{kind}"),
            t,
            sub("sub_c", status, PRICE_PRO, None),
        )
    };
    let first = event(earlier, "evt_earlier", 10);
    let second = event(later, "evt_later", 20);
    let signed = |body: &str| {
        let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, h.now_s(), body.as_bytes());
        Req::post("/v1/webhooks/paddle")
            .header("paddle-signature", &sig)
            .raw("application/json", body.as_bytes().to_vec())
            .into_request()
    };
    let (r1, r2) = match how {
        Delivery::InOrder => (h.webhook(&first), h.webhook(&second)),
        Delivery::Reversed => {
            let r2 = h.webhook(&second);
            (h.webhook(&first), r2)
        }
        Delivery::ConcurrentEarlierCommitsFirst | Delivery::ConcurrentLaterCommitsFirst => {
            gate.armed.set(true);
            // Arrival 0 is the earlier event (polled first), arrival 1 the later one.
            gate.order.set(match how {
                Delivery::ConcurrentEarlierCommitsFirst => [0, 1],
                _ => [1, 0],
            });
            let (f, s) = futures::executor::block_on(futures::future::join(
                h.app.handle(signed(&first)),
                h.app.handle(signed(&second)),
            ));
            let resp = |x: Handled| match x {
                Handled::Response(r) => Resp::from(r),
                Handled::Asset(_) => panic!("not an API response"),
            };
            assert_eq!(gate.committed.get(), 2, "both batches were held back");
            (resp(f), resp(s))
        }
    };
    assert_eq!(r1.status, 200, "{how:?}: {}", r1.body);
    assert_eq!(r2.status, 200, "{how:?}: {}", r2.body);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM webhook_events WHERE event_id IN ('evt_earlier', 'evt_later')"),
        2
    );
    Final {
        status: subscription(&h, &o.session)["status"]
            .as_str()
            .unwrap()
            .to_owned(),
        oversight: oversight(&h, &o.id, &a.id),
        client: listed_client_state(&h, "agent", &a.session, &client),
    }
}

const ALL: [Delivery; 4] = [
    Delivery::InOrder,
    Delivery::Reversed,
    Delivery::ConcurrentEarlierCommitsFirst,
    Delivery::ConcurrentLaterCommitsFirst,
];

/// Runs every delivery and reports each one whose final state differs from `want`.
fn check(earlier: (&str, &str), later: (&str, &str), want: &Final) {
    let wrong: Vec<String> = ALL
        .into_iter()
        .filter_map(|how| {
            let got = deliver(earlier, later, how);
            (got != *want).then(|| format!("{how:?}: {got:?}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "want {want:?}, got:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_pause_then_a_resume_ends_active_with_the_agents_and_clients_back() {
    check(
        ("paused", "paused"),
        ("resumed", "active"),
        &Final {
            status: "active".into(),
            oversight: (1, None),
            client: (0, None),
        },
    );
}

#[test]
fn a_resume_then_a_pause_ends_paused_with_the_agents_and_clients_suspended() {
    check(
        ("resumed", "active"),
        ("paused", "paused"),
        &Final {
            status: "paused".into(),
            oversight: (0, Some("subscription_paused".into())),
            client: (1, Some("subscription_paused".into())),
        },
    );
}
