//! The names chzzkpy users know, kept for parity: each one is the canonical method of
//! [`ChatClient`] under another name, or the same action started from the message
//! (`message.pin(&client)` instead of `client.pin(&message)`). New code can ignore this module;
//! rustdoc lists these in their own blocks so each action has one obvious way.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{ChatMessage, DonationMessage, Message, NoticeMessage, PartialUser};
use crate::{ChatClient, Error};

/// chzzkpy's names for [`ChatClient`]'s commands.
impl ChatClient {
    /// [`send`](Self::send), by chzzkpy's name.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_chat(&self, text: impl Into<String>) -> Result<(), Error> {
        self.send(text).await
    }

    /// [`send_with_emojis`](Self::send_with_emojis), by chzzkpy's name.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_chat_with_emojis(
        &self,
        text: impl Into<String>,
        emojis: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        self.send_with_emojis(text, emojis).await
    }

    /// [`pin`](Self::pin), by chzzkpy's name.
    ///
    /// # Errors
    /// As [`pin`](Self::pin).
    pub async fn set_notice_message<E>(&self, message: &Message<E>) -> Result<(), Error> {
        self.pin(message).await
    }

    /// [`unpin`](Self::unpin), by chzzkpy's name.
    ///
    /// # Errors
    /// As [`unpin`](Self::unpin).
    pub async fn delete_notice_message(&self) -> Result<(), Error> {
        self.unpin().await
    }

    /// [`blind`](Self::blind), by chzzkpy's name.
    ///
    /// # Errors
    /// As [`blind`](Self::blind).
    pub async fn blind_message<E>(&self, message: &Message<E>) -> Result<(), Error> {
        self.blind(message).await
    }
}

/// chzzkpy's message methods: the client's commands started from the line.
impl ChatMessage {
    /// Pins this line ([`ChatClient::pin`]).
    ///
    /// # Errors
    /// As [`ChatClient::pin`].
    pub async fn pin(&self, client: &ChatClient) -> Result<(), Error> {
        client.pin(self).await
    }

    /// Hides this line ([`ChatClient::blind`]).
    ///
    /// # Errors
    /// As [`ChatClient::blind`].
    pub async fn blind(&self, client: &ChatClient) -> Result<(), Error> {
        client.blind(self).await
    }

    /// Times the author out ([`ChatClient::temporary_restrict`]).
    ///
    /// # Errors
    /// As [`ChatClient::temporary_restrict`].
    pub async fn temporary_restrict(
        &self,
        client: &ChatClient,
    ) -> Result<Option<PartialUser>, Error> {
        client.temporary_restrict(&self.user_id).await
    }

    /// Answers in the same chat ([`ChatClient::send`]).
    ///
    /// # Errors
    /// As [`ChatClient::send`].
    pub async fn reply(&self, client: &ChatClient, text: impl Into<String>) -> Result<(), Error> {
        client.send(text).await
    }
}

impl NoticeMessage {
    /// Removes this pin ([`ChatClient::unpin`]).
    ///
    /// # Errors
    /// As [`ChatClient::unpin`].
    pub async fn unpin(&self, client: &ChatClient) -> Result<(), Error> {
        client.unpin().await
    }
}

/// Mission decisions started from the donation ([`ManageClient::approve_mission`](crate::ManageClient::approve_mission)).
impl DonationMessage {
    /// Approves the pending mission this donation proposes (streamer only).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when it is not a mission donation; as
    /// [`ManageClient::approve_mission`](crate::ManageClient::approve_mission).
    pub async fn approve(&self, client: &ChatClient) -> Result<Value, Error> {
        let id = self
            .mission_id()
            .ok_or_else(|| Error::InvalidInput("not a mission donation".into()))?;
        client.manage_self().approve_mission(id).await
    }

    /// Rejects the pending mission this donation proposes (streamer only).
    ///
    /// # Errors
    /// As [`approve`](Self::approve).
    pub async fn reject(&self, client: &ChatClient) -> Result<Value, Error> {
        let id = self
            .mission_id()
            .ok_or_else(|| Error::InvalidInput("not a mission donation".into()))?;
        client.manage_self().reject_mission(id).await
    }
}
