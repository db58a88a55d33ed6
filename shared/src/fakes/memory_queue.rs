use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::job_queue::QueueError;
use crate::ports::JobQueue;

/// Jobs in a vector; `fail_next` makes the next enqueue (delayed or not) fail, to test callers'
/// error paths.
#[derive(Default)]
pub struct MemoryQueue {
    jobs: Mutex<Vec<String>>,
    fail_next: Mutex<bool>,
    delays: Mutex<Vec<(String, std::time::Duration)>>,
}

impl MemoryQueue {
    pub fn jobs(&self) -> Vec<String> {
        self.jobs.lock().expect("lock").clone()
    }

    /// `(receipt handle, delay)` of every `retry_later`.
    pub fn delays(&self) -> Vec<(String, std::time::Duration)> {
        self.delays.lock().expect("lock").clone()
    }

    /// Takes the oldest job, with the delay it was enqueued with (zero if none).
    pub fn pop(&self) -> Option<(String, std::time::Duration)> {
        let mut jobs = self.jobs.lock().expect("lock");
        if jobs.is_empty() {
            return None;
        }
        let body = jobs.remove(0);
        let mut delays = self.delays.lock().expect("lock");
        let key = format!("delayed:{body}");
        let delay = delays.iter().position(|(k, _)| *k == key).map(|i| delays.remove(i).1).unwrap_or_default();
        Some((body, delay))
    }

    pub fn fail_next(&self) {
        *self.fail_next.lock().expect("lock") = true;
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn enqueue(&self, bodies: &[String]) -> Result<(), QueueError> {
        if std::mem::take(&mut *self.fail_next.lock().expect("lock")) {
            return Err(QueueError::Unavailable("injected queue failure".into()));
        }
        self.jobs.lock().expect("lock").extend(bodies.iter().cloned());
        Ok(())
    }

    async fn enqueue_delayed(&self, body: &str, delay: std::time::Duration) -> Result<(), QueueError> {
        if std::mem::take(&mut *self.fail_next.lock().expect("lock")) {
            return Err(QueueError::Unavailable("injected queue failure".into()));
        }
        self.delays.lock().expect("lock").push((format!("delayed:{body}"), delay));
        self.jobs.lock().expect("lock").push(body.to_owned());
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, after: std::time::Duration) -> Result<(), QueueError> {
        self.delays.lock().expect("lock").push((receipt_handle.to_owned(), after));
        Ok(())
    }
}
