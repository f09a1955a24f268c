//! The CAs' private-key operations run on a fixed pool of threads, one per
//! core, taking jobs in arrival order.
//!
//! Two queues, issuance before on-demand OCSP answers, each bounded
//! ([`Priority`]).
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
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Which queue a job waits in. Workers take issuance jobs first, so a
/// flood of on-demand OCSP answers cannot starve certificate issuance
/// (issue 15); each queue has its own bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Certificates and CRLs: what holders and operators wait for.
    Issuance,
    /// OCSP answers signed on demand (nonce requests): shed first.
    Answer,
}

/// Jobs waiting per thread before more are refused: answers (a relying
/// party retries after `tryLater`), issuance (503, the caller retries
/// with the same request id).
const ANSWERS_PER_THREAD: usize = 32;
const ISSUANCE_PER_THREAD: usize = 512;

#[derive(Default)]
struct Queues {
    issuance: VecDeque<Job>,
    answers: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

/// A fixed pool of signing threads.
pub struct SigningPool {
    shared: Arc<Shared>,
    threads: usize,
}

impl std::fmt::Debug for SigningPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningPool").field("threads", &self.threads).finish_non_exhaustive()
    }
}

impl Drop for SigningPool {
    fn drop(&mut self) {
        if let Ok(mut q) = self.shared.queues.lock() {
            q.closed = true;
        }
        self.shared.ready.notify_all();
    }
}

impl SigningPool {
    /// A pool of `threads` threads (at least one). The threads end when the
    /// pool is dropped and the jobs already queued are done.
    pub fn new(threads: usize) -> Result<Self, JlisError> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared { queues: Mutex::new(Queues::default()), ready: Condvar::new() });
        for i in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("ca-signer-{i}"))
                .spawn(move || work(&shared))
                .map_err(|e| JlisError::Internal(format!("cannot start a signing thread: {e}")))?;
        }
        Ok(Self { shared, threads })
    }

    /// One thread per core of this machine.
    pub fn per_core() -> Result<Self, JlisError> {
        Self::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }

    /// How many threads sign.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` (an issuance job) on a signing thread and waits for its
    /// result without holding an async worker.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, JlisError> {
        self.run_as(Priority::Issuance, f).await
    }

    /// Runs `f` in the queue of `priority`; [`JlisError::Busy`] when that
    /// queue is full (nothing was run).
    pub async fn run_as<T: Send + 'static>(
        &self,
        priority: Priority,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JlisError> {
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(f());
        });
        {
            let mut q = self.shared.queues.lock().map_err(|_| JlisError::Internal("the signing queue".into()))?;
            let (queue, bound) = match priority {
                Priority::Issuance => (&mut q.issuance, ISSUANCE_PER_THREAD * self.threads),
                Priority::Answer => (&mut q.answers, ANSWERS_PER_THREAD * self.threads),
            };
            if queue.len() >= bound {
                return Err(JlisError::Busy(format!("{bound} signing jobs are waiting; try again shortly")));
            }
            queue.push_back(job);
        }
        self.shared.ready.notify_one();
        // A job that panicked drops its sender: the caller gets an error,
        // the thread goes on with the next job.
        result.await.map_err(|_| JlisError::Internal("a signing job failed".into()))
    }

    /// Jobs waiting (issuance, answers), for metrics and tests.
    pub fn waiting(&self) -> (usize, usize) {
        self.shared.queues.lock().map(|q| (q.issuance.len(), q.answers.len())).unwrap_or_default()
    }
}

fn work(shared: &Shared) {
    loop {
        let job = {
            let Ok(mut q) = shared.queues.lock() else { return };
            loop {
                if let Some(job) = q.issuance.pop_front().or_else(|| q.answers.pop_front()) {
                    break job;
                }
                if q.closed {
                    return;
                }
                q = match shared.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
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

    /// With the only thread busy, answers queue up to their bound and the
    /// next is refused `Busy`, while issuance is still taken; once the
    /// thread is free it signs the issuance before the waiting answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_are_shed_when_their_queue_is_full_and_issuance_goes_first() {
        let pool = Arc::new(SigningPool::new(1).unwrap());
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let order = Arc::new(Mutex::new(Vec::new()));
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || blocked.recv().unwrap()).await })
        };
        while pool.waiting() != (0, 0) {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut answers = Vec::new();
        for i in 0..ANSWERS_PER_THREAD {
            let (pool, order) = (pool.clone(), order.clone());
            answers.push(tokio::spawn(async move {
                pool.run_as(Priority::Answer, move || order.lock().unwrap().push(format!("answer {i}"))).await
            }));
        }
        while pool.waiting().1 < ANSWERS_PER_THREAD {
            tokio::task::yield_now().await;
        }
        let shed = pool.run_as(Priority::Answer, || ()).await;
        assert!(matches!(shed, Err(JlisError::Busy(_))), "{shed:?}");
        let issuance = {
            let (pool, order) = (pool.clone(), order.clone());
            tokio::spawn(async move { pool.run(move || order.lock().unwrap().push("issuance".to_string())).await })
        };
        while pool.waiting().0 < 1 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        issuance.await.unwrap().unwrap();
        for a in answers {
            a.await.unwrap().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order.len(), ANSWERS_PER_THREAD + 1);
        assert_eq!(order[0], "issuance", "issuance is signed before the answers that waited longer");
    }

    #[test]
    fn a_pool_has_at_least_one_thread() {
        assert_eq!(SigningPool::new(0).unwrap().threads(), 1);
    }
}
