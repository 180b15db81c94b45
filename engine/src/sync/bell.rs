//! The scheduler's bell, rung by everything that makes a replica due now ("sync now",
//! creation, a divergence, a confirmed hold).

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Bell(Notify);

impl Bell {
    /// Asks the scheduler to look for due replicas now.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub(super) async fn rung(&self) {
        self.0.notified().await;
    }
}
