//! The runtime's `tracing` events (feature `tracing`): the runtime-start event names the
//! backend and why, and scheduler cores report park and unpark at trace level, on both
//! backends. A small collecting subscriber (set once for the whole binary) records every
//! event with the name of the thread that emitted it, so tests running in parallel only
//! look at their own threads' events.

#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ringtide::runtime::{Backend, Builder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One recorded event.
#[derive(Clone, Debug)]
struct Recorded {
    level: Level,
    thread: String,
    message: String,
    fields: BTreeMap<String, String>,
}

/// Records every event (all levels) into a global list.
struct Collector {
    events: Mutex<Vec<Recorded>>,
}

struct FieldVisitor<'a>(&'a mut Recorded);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0.message = format!("{value:?}");
        } else {
            self.0
                .fields
                .insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.message = value.to_owned();
        } else {
            self.0
                .fields
                .insert(field.name().to_owned(), value.to_owned());
        }
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut recorded = Recorded {
            level: *event.metadata().level(),
            thread: std::thread::current().name().unwrap_or("").to_owned(),
            message: String::new(),
            fields: BTreeMap::new(),
        };
        event.record(&mut FieldVisitor(&mut recorded));
        self.events.lock().unwrap().push(recorded);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector: &'static Collector = Box::leak(Box::new(Collector {
            events: Mutex::new(Vec::new()),
        }));
        tracing::subscriber::set_global_default(Forward(collector))
            .expect("this binary sets the only global subscriber");
        collector
    })
}

/// The global subscriber: forwards to the leaked collector (so tests can read it).
struct Forward(&'static Collector);

impl Subscriber for Forward {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }
    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        self.0.new_span(attributes)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        self.0.record(span, values)
    }
    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.0.record_follows_from(span, follows)
    }
    fn event(&self, event: &Event<'_>) {
        self.0.event(event)
    }
    fn enter(&self, span: &Id) {
        self.0.enter(span)
    }
    fn exit(&self, span: &Id) {
        self.0.exit(span)
    }
}

/// The events emitted so far by threads named `thread`.
fn events_of(thread: &str) -> Vec<Recorded> {
    collector()
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|event| event.thread == thread)
        .cloned()
        .collect()
}

fn this_thread() -> String {
    std::thread::current()
        .name()
        .expect("libtest names its test threads")
        .to_owned()
}

fn start_events(thread: &str) -> Vec<Recorded> {
    events_of(thread)
        .into_iter()
        .filter(|event| event.message.starts_with("ringtide: runtime started"))
        .collect()
}

#[test]
fn runtime_start_names_the_requested_backend_and_why() {
    collector();
    for backend in backends() {
        let runtime = Builder::new_current_thread()
            .backend(backend)
            .enable_all()
            .build()
            .unwrap();
        drop(runtime);
        let events = start_events(&this_thread());
        let event = events.last().expect("a runtime-start event");
        assert_eq!(event.level, Level::DEBUG);
        assert_eq!(event.fields["backend"], backend.as_str(), "{event:?}");
        assert_eq!(event.fields["reason"], "requested by Builder::backend");
        assert_eq!(event.fields["flavor"], "current_thread");
        assert_eq!(event.fields["cores"], "1");
        assert!(
            event.message.contains(backend.as_str()),
            "the message names the backend: {event:?}"
        );
    }
}

#[test]
fn runtime_start_reports_auto_selection_and_its_probe_result() {
    collector();
    let runtime = Builder::new_multi_thread()
        .worker_threads(2)
        .backend(Backend::Auto)
        .enable_all()
        .build()
        .unwrap();
    let chosen = runtime.backend();
    drop(runtime);
    let events = start_events(&this_thread());
    let event = events.last().expect("a runtime-start event");
    assert_eq!(event.fields["backend"], chosen.as_str());
    assert_eq!(event.fields["flavor"], "multi_thread");
    assert_eq!(event.fields["cores"], "2");
    let reason = &event.fields["reason"];
    match chosen {
        Backend::IoUring => assert_eq!(reason, "auto: the io_uring probe passed"),
        // Where io_uring is unavailable, the reason says what the probe found.
        _ => assert!(
            reason.starts_with("auto: io_uring") && reason.len() > "auto: io_uring".len(),
            "{reason}"
        ),
    }
}

#[test]
fn workers_report_park_and_unpark_at_trace_level() {
    collector();
    for backend in backends() {
        let thread = format!("trace-park-{backend}");
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(thread.clone())
            .backend(backend)
            .enable_all()
            .build()
            .unwrap();
        // The only worker must wait for the timer, so it parks and is unparked.
        runtime.block_on(async {
            ringtide::spawn(ringtide::time::sleep(Duration::from_millis(5)))
                .await
                .unwrap();
        });
        drop(runtime);
        let events = events_of(&thread);
        let parks = events
            .iter()
            .position(|event| event.message == "ringtide: core 0 parks")
            .unwrap_or_else(|| panic!("no park event on {backend}: {events:?}"));
        let park = &events[parks];
        assert_eq!(park.level, Level::TRACE);
        assert!(park.fields.contains_key("timeout"), "{park:?}");
        assert!(
            events[parks..]
                .iter()
                .any(|event| event.message == "ringtide: core 0 unparked"
                    && event.level == Level::TRACE),
            "no unpark after the park on {backend}: {events:?}"
        );
    }
}

/// The backends this build has: io_uring needs Linux and the `io-uring` feature (the
/// suite's single-backend builds leave it out, and say so here).
fn backends() -> Vec<Backend> {
    if cfg!(all(target_os = "linux", feature = "io-uring")) {
        vec![Backend::IoUring, Backend::Mio]
    } else {
        eprintln!("io_uring is not compiled in: testing mio only");
        vec![Backend::Mio]
    }
}
