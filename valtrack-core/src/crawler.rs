//! The crawler seam: [`Crawler`] enumerates the discv5 DHT and reports each node it finds as a
//! [`DiscoveredNode`] with a [`NodeUpdate`] (new, seq changed, gone).
//!
//! Like every seam trait, [`Crawler`] is `Send + Sync + 'static` (no `Debug` supertrait, which
//! would tax every implementor) and returns `impl Stream + Send` (no `async_trait`), and an
//! `Arc` of a crawler is a crawler.

use std::sync::Arc;

use futures_core::Stream;

use crate::enr_info::{EnrClass, EnrInfo};

/// What a crawl found out about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeUpdate {
    /// First sight.
    New,
    /// A higher ENR seq than before.
    SeqChanged {
        /// The seq we had.
        previous: u64,
    },
    /// Not seen for the configured time; forgotten.
    Gone,
}

/// A node found on discv5, with its ENR decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredNode {
    /// The ENR in text form (`enr:…`), the highest seq seen.
    pub enr: String,
    /// Its fields, decoded.
    pub info: EnrInfo,
    /// Our network, another network, or no eth2 field.
    pub class: EnrClass,
    /// Why it is reported.
    pub update: NodeUpdate,
}

/// Enumerates the discv5 DHT and reports every node it finds.
///
/// ```
/// use futures::stream::{self, Stream, StreamExt};
/// use valtrack_core::{Crawler, DiscoveredNode, EnrClass, EnrInfo, NodeUpdate};
///
/// /// A crawler that "finds" a fixed list: handy in tests of what consumes a crawler.
/// #[derive(Debug)]
/// struct Fixed(Vec<DiscoveredNode>);
///
/// impl Crawler for Fixed {
///     fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
///         stream::iter(self.0.clone())
///     }
/// }
///
/// let enr = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";
/// let info: EnrInfo = enr.parse()?;
/// let node = DiscoveredNode { enr: enr.into(), info, class: EnrClass::NoEth2, update: NodeUpdate::New };
/// let crawler = Fixed(vec![node]);
/// let found: Vec<_> = futures::executor::block_on(crawler.discovered().collect());
/// assert_eq!(found.len(), 1);
/// # Ok::<(), valtrack_core::EnrError>(())
/// ```
pub trait Crawler: Send + Sync + 'static {
    /// A stream of discoveries: new nodes, ENR updates and nodes gone. Each call subscribes
    /// anew; a slow reader may miss updates only if the implementation documents so.
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static;
}

/// A shared crawler is a crawler too: a program can hand an `Arc` of one to a sentry and keep
/// reading its state.
impl<T: Crawler> Crawler for Arc<T> {
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
        (**self).discovered()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures::StreamExt;

    use super::*;

    /// Reports one node, once per call.
    #[derive(Debug)]
    struct One(DiscoveredNode);

    /// A stream of at most one item.
    struct Once(Option<DiscoveredNode>);

    impl Stream for Once {
        type Item = DiscoveredNode;
        fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.take())
        }
    }

    impl Crawler for One {
        fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
            Once(Some(self.0.clone()))
        }
    }

    async fn count(crawler: &impl Crawler) -> usize {
        crawler.discovered().count().await
    }

    #[test]
    fn a_shared_crawler_is_a_crawler() {
        let enr = crate::MAINNET_BOOTNODES[0];
        let node = DiscoveredNode {
            enr: enr.to_owned(),
            info: enr.parse().unwrap(),
            class: EnrClass::NoEth2,
            update: NodeUpdate::New,
        };
        let shared = Arc::new(One(node.clone()));
        assert_eq!(futures::executor::block_on(count(&shared)), 1);
        let found: Vec<_> = futures::executor::block_on(shared.discovered().collect());
        assert_eq!(found, vec![node]);
    }
}
