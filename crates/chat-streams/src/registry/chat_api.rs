//! MaiBot's `chat_api`, name for name, on [`Registry`]: the listings by platform, the
//! lookups by group and by user (with `find_streams_by_*` twins that return every match where
//! MaiBot returns the first), the stream's type and info, and the summary.

use std::cmp::Reverse;
use std::sync::Arc;

use super::Registry;
use super::index::State;
use super::options::ListQuery;
use crate::Error;
use crate::id::StreamKind;
use crate::model::{ChatStream, PlatformFilter, StreamInfo, StreamType, StreamsSummary};

/// MaiBot's `chat_api`, name for name.
impl Registry {
    /// MaiBot's `get_all_streams(platform)`, most recently active first.
    pub fn get_all_streams(&self, platform: impl Into<PlatformFilter>) -> Vec<Arc<ChatStream>> {
        self.list(&ListQuery {
            platform: Some(platform.into()),
            ..ListQuery::default()
        })
    }

    /// MaiBot's `get_group_streams(platform)`, most recently active first.
    pub fn get_group_streams(&self, platform: impl Into<PlatformFilter>) -> Vec<Arc<ChatStream>> {
        self.list(&ListQuery {
            platform: Some(platform.into()),
            kind: Some(StreamKind::Group),
            ..ListQuery::default()
        })
    }

    /// MaiBot's `get_private_streams(platform)`, most recently active first.
    pub fn get_private_streams(&self, platform: impl Into<PlatformFilter>) -> Vec<Arc<ChatStream>> {
        self.list(&ListQuery {
            platform: Some(platform.into()),
            kind: Some(StreamKind::Private),
            ..ListQuery::default()
        })
    }

    /// The pks of the streams with this group or user id on the platforms of `platform`.
    fn target_pks(st: &State, group: bool, id: &str, platform: &PlatformFilter) -> Vec<i64> {
        let index = if group { &st.by_group } else { &st.by_user };
        index.get(id).map_or_else(Vec::new, |pks| {
            pks.iter()
                .copied()
                .filter(|pk| {
                    st.streams
                        .get(pk)
                        .is_some_and(|s| platform.matches(&s.platform))
                })
                .collect()
        })
    }

    fn by_target(&self, group: bool, id: &str, platform: &PlatformFilter) -> Vec<Arc<ChatStream>> {
        let st = self.state();
        st.most_recent(&Self::target_pks(&st, group, id, platform))
    }

    /// The most recently active of [`by_target`](Self::by_target) (the first on ties), cloning
    /// only that one.
    fn first_by_target(
        &self,
        group: bool,
        id: &str,
        platform: &PlatformFilter,
    ) -> Option<Arc<ChatStream>> {
        let st = self.state();
        let index = if group { &st.by_group } else { &st.by_user };
        index
            .get(id)?
            .iter()
            .filter_map(|pk| st.streams.get(pk))
            .filter(|s| platform.matches(&s.platform))
            .min_by_key(|s| Reverse(s.last_active_at_ms))
            .cloned()
    }

    /// MaiBot's `get_stream_by_group_id(group_id, platform)`: the most recently active match.
    ///
    /// Unlike MaiBot 0.x, [`PlatformFilter::All`] matches every platform (MaiBot compares the
    /// enum with the stream's platform string and never finds anything). Several bot accounts
    /// or scopes can share a group: [`find_streams_by_group_id`](Self::find_streams_by_group_id)
    /// returns them all.
    ///
    /// # Errors
    /// [`Error::EmptyGroupId`].
    pub fn get_stream_by_group_id(
        &self,
        group_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Option<Arc<ChatStream>>, Error> {
        if group_id.is_empty() {
            return Err(Error::EmptyGroupId);
        }
        Ok(self.first_by_target(true, group_id, &platform.into()))
    }

    /// Every stream of a group (one per account and scope, across platforms for `All`), most
    /// recently active first.
    ///
    /// # Errors
    /// [`Error::EmptyGroupId`].
    pub fn find_streams_by_group_id(
        &self,
        group_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Vec<Arc<ChatStream>>, Error> {
        if group_id.is_empty() {
            return Err(Error::EmptyGroupId);
        }
        Ok(self.by_target(true, group_id, &platform.into()))
    }

    /// MaiBot's `get_stream_by_user_id(user_id, platform)`: the private stream with the user
    /// (the most recently active one). [`PlatformFilter::All`] matches every platform.
    ///
    /// # Errors
    /// [`Error::EmptyUserId`].
    pub fn get_stream_by_user_id(
        &self,
        user_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Option<Arc<ChatStream>>, Error> {
        if user_id.is_empty() {
            return Err(Error::EmptyUserId);
        }
        Ok(self.first_by_target(false, user_id, &platform.into()))
    }

    /// Every private stream with the user, most recently active first.
    ///
    /// # Errors
    /// [`Error::EmptyUserId`].
    pub fn find_streams_by_user_id(
        &self,
        user_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Vec<Arc<ChatStream>>, Error> {
        if user_id.is_empty() {
            return Err(Error::EmptyUserId);
        }
        Ok(self.by_target(false, user_id, &platform.into()))
    }

    /// MaiBot's `get_stream_type`.
    pub fn get_stream_type(stream: &ChatStream) -> StreamType {
        match (stream.key.kind, &stream.group_info) {
            (StreamKind::Group, Some(_)) => StreamType::Group,
            (StreamKind::Private, None) => StreamType::Private,
            _ => StreamType::Unknown,
        }
    }

    /// MaiBot's `get_stream_info`, with its keys in its order.
    pub fn get_stream_info(stream: &ChatStream) -> StreamInfo {
        StreamInfo {
            stream_id: stream.stream_id.clone(),
            platform: stream.platform.clone(),
            stream_type: Self::get_stream_type(stream),
            group: stream
                .group_info
                .as_ref()
                .map(|g| (g.group_id.clone(), g.group_name.clone())),
            user: stream
                .user_info
                .as_ref()
                .map(|u| (u.user_id.clone(), u.user_nickname.clone())),
        }
    }

    /// MaiBot's `get_streams_summary`, plus a count per platform.
    pub fn get_streams_summary(&self) -> StreamsSummary {
        let st = self.state();
        let mut out = StreamsSummary::default();
        for s in st.streams.values() {
            out.total_streams += 1;
            match s.key.kind {
                StreamKind::Group => out.group_streams += 1,
                StreamKind::Private => out.private_streams += 1,
            }
            *out.by_platform.entry(s.platform.clone()).or_default() += 1;
        }
        out.qq_streams = out.by_platform.get("qq").copied().unwrap_or(0);
        out
    }
}
