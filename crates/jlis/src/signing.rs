//! The CAs' private-key operations run on a fixed pool of threads, one per
//! core, taking jobs in arrival order.
//!
//! Certificates, OCSP answers and CRLs are signed off the async workers (so
//! they stay free for OCSP look-ups and the API) and off the database
//! writer. A pool the size of the machine, rather than tokio's blocking pool
//! (up to 512 threads), keeps a burst of issuances from becoming as many
//! threads time-slicing RSA on two cores, and keeps the blocking pool free
//! for the database work that PostgreSQL runs there. Throughput was measured
//! the same both ways within this machine's noise (`jpki bench issuance`,
//! docs/benchmarks.md).

use crate::JlisError;
use std::sync::{mpsc, Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of signing threads.
#[derive(Debug)]
pub struct SigningPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl SigningPool {
    /// A pool of `threads` threads (at least one). The threads end when the
    /// pool is dropped and the jobs already queued are done.
    pub fn new(threads: usize) -> Result<Self, JlisError> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("ca-signer-{i}"))
                .spawn(move || work(&queue))
                .map_err(|e| JlisError::Internal(format!("cannot start a signing thread: {e}")))?;
        }
        Ok(Self { jobs, threads })
    }

    /// One thread per core of this machine.
    pub fn per_core() -> Result<Self, JlisError> {
        Self::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }

    /// How many threads sign.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on a signing thread and waits for its result without
    /// holding an async worker.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, JlisError> {
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(f());
        });
        self.jobs.send(job).map_err(|_| JlisError::Internal("the signing threads have stopped".into()))?;
        // A job that panicked drops its sender: the caller gets an error,
        // the thread goes on with the next job.
        result.await.map_err(|_| JlisError::Internal("a signing job failed".into()))
    }
}

fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("a signing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panicking_job_leaves_the_pool_working() {
        let pool = SigningPool::new(2).unwrap();
        assert_eq!(pool.threads(), 2);
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(failed, Err(JlisError::Internal(_))), "{failed:?}");
        let many = futures_join(&pool).await;
        assert_eq!(many, (0..64).map(|i| i * 2).collect::<Vec<_>>());
    }

    async fn futures_join(pool: &SigningPool) -> Vec<u32> {
        let mut out = Vec::new();
        let pending: Vec<_> = (0..64u32).map(|i| pool.run(move || i * 2)).collect();
        for p in pending {
            out.push(p.await.unwrap());
        }
        out
    }

    #[test]
    fn a_pool_has_at_least_one_thread() {
        assert_eq!(SigningPool::new(0).unwrap().threads(), 1);
    }
}
