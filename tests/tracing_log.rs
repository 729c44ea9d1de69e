//! `log` users see the runtime's events without a `tracing` subscriber: with the
//! `tracing` feature they arrive through tracing's `log` compatibility, without it they
//! go to `log` directly. This binary installs only a `log` logger (never a tracing
//! subscriber, which would stop the forwarding).

use std::sync::{Mutex, OnceLock};

use ringtide::runtime::{Backend, Builder};

struct Logger(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

fn logger() -> &'static Logger {
    static LOGGER: OnceLock<&'static Logger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let logger: &'static Logger = Box::leak(Box::new(Logger(Mutex::new(Vec::new()))));
        log::set_logger(logger).expect("this binary sets the only logger");
        log::set_max_level(log::LevelFilter::Trace);
        logger
    })
}

#[test]
fn log_users_see_the_runtime_start_event_on_both_backends() {
    let logger = logger();
    for backend in backends() {
        let runtime = Builder::new_current_thread()
            .backend(backend)
            .enable_all()
            .build()
            .unwrap();
        drop(runtime);
        // Through tracing's compatibility the structured fields follow the message.
        let expected = format!(
            "ringtide: runtime started on {backend} (requested by Builder::backend); \
             current_thread scheduler, 1 core(s)"
        );
        let records = logger.0.lock().unwrap();
        assert!(
            records
                .iter()
                .any(|(level, message)| *level == log::Level::Debug
                    && message.starts_with(&expected)),
            "no `{expected}` among the log records: {records:?}"
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
