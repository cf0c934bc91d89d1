//! The Chzzk oracle: every server frame of `fixtures/chzzk/*.jsonl`, decoded by chzzk-chat
//! ([`chzzk_chat::proto::decode_frame`], what the client does with a frame it receives) and by chzzkpy
//! 2.2.0's own receive path (`interop/chzzk_oracle.py`), both projected onto one shape.
//!
//! Items and case ids: `<fixture>:<line>` for a frame; `<fixture>:<line>#i` for line `i` of a
//! chat batch (93101/93102) with two lines or more, and for line `i` of a recent-chat answer
//! (whose own case is `<fixture>:<line>`).
//!
//! The projection (the same in `chzzk_oracle.py`), by `kind`:
//! - `chat`, `donation`, `subscription`, `subscription_gift`, `system_message`: a line, with
//!   `type` (the code), `chat_channel_id`, `user_id`, `text`, `time_ms`, `created_ms`,
//!   `profile`, `extras` (per kind), and `status`, `member_count` for the kinds chzzkpy models
//!   with them (all but gifts). A profile: `user_id_hash`, `nickname`, `image_url`, `role`,
//!   `verified_mark`, `badge` (role badge image with the title's name), `color`,
//!   `nickname_color`, `subscription`, `donation_ranking_badge`, `activity_badges`,
//!   `viewer_badges`.
//! - `pin` (a line plus `register_profile`), `unpin`, `blind`, `mission_pending` |
//!   `mission_approved` | `mission_rejected` | `mission_completed` | `mission_participation`
//!   (`pay_amount`, `is_anonymous`, `mission`), `connected` (`sid`), `connect_failed`
//!   (`ret_code`, `ret_msg`), `recent_chat` (`user_count`, `lines`, `notice`),
//!   `recent_chat_failed`, `ping` (answered with a pong).
//! - `ignored`: nothing reaches the application (a PONG, an empty batch; for chzzkpy also
//!   every frame it has no parser for). Our other events project to their kind alone.
//! - `rejected`: we report the item as undecodable. A line both reject agrees, whatever
//!   chzzkpy raised, unless its exception ends its client (then it is a divergence).
//!
//! Normalised (both represent the same thing differently): times are Unix milliseconds
//! (chzzkpy: datetimes), mission times `YYYY-MM-DD HH:MM:SS` text (chzzkpy: datetimes, we keep
//! the text); a missing `msgStatusType` is `NORMAL` (chzzkpy: `None`, which its `is_blind`
//! treats as shown); an empty `profileImageUrl` is `null` (we drop it, chzzkpy keeps `""`);
//! `emojis` are the name → URL entries (chzzkpy keeps any value, e.g. the `""` its own client
//! sends); enums are their wire strings; an absent `viewerBadges` is `[]` (we keep absent apart
//! from empty, chzzkpy defaults to an empty list); NOTICE's two chzzkpy events (`notice` and
//! `pin`) are one item. Fields chzzkpy does not model are left out on both sides (a
//! participation's mission times, gift completion counts, party fields).
//!
//! Per frame, not per session: our client also drops a line pushed twice (same author and
//! time) and routes recent-chat answers to requests; neither is compared here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chat_replay::pattern::{self, Vars};
use chat_replay::{Fixture, Payload, StepKind};
use chzzk_chat::Event;
use chzzk_chat::model::{
    Blind, BlindKind, ChatExtras, Donation, DonationKind, DonationRank, Line, Message,
    MessageStatus, Mission, MissionStatus, NoticeMessage, Profile, Subscription, SubscriptionGift,
    SystemExtras, UserRole,
};
use chzzk_chat::proto::{DecodedFrame, decode_frame};
use serde_json::{Value, json};

use super::{Case, Env};
use crate::project_root;

/// One server frame and what we make of it.
struct Frame {
    id: String,
    /// The fixture's `channel_id` (the channel its client follows).
    channel_id: String,
    text: String,
    binary: bool,
    ours: Vec<(String, Value)>,
}

pub(crate) fn run(env: &Env) -> Result<Vec<Case>, String> {
    let frames = frames()?;
    let input = env.dir.join("chzzk_frames.json");
    let listed: Vec<Value> = frames
        .iter()
        .map(|f| json!({"id": f.id, "text": f.text, "binary": f.binary}))
        .collect();
    let doc = json!({ "frames": listed });
    std::fs::write(&input, doc.to_string()).map_err(|e| format!("{}: {e}", input.display()))?;
    let theirs = env.python_json("chzzk_oracle.py", &[&input.to_string_lossy()])?;
    let results = theirs["frames"]
        .as_object()
        .ok_or("chzzk_oracle.py printed no \"frames\"")?;
    let mut cases = Vec::new();
    for f in frames {
        let items: Vec<(String, Value)> = results
            .get(&f.id)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("chzzk_oracle.py has no result for {}", f.id))?
            .iter()
            .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].clone())))
            .collect();
        let frame_error = items
            .iter()
            .find(|(s, _)| s.is_empty())
            .and_then(|(_, item)| item["error"].as_str().map(str::to_owned));
        let mut suffixes: Vec<String> = f.ours.iter().map(|(s, _)| s.clone()).collect();
        for (s, _) in &items {
            if !suffixes.contains(s) {
                suffixes.push(s.clone());
            }
        }
        for suffix in suffixes {
            let ours = f
                .ours
                .iter()
                .find(|(s, _)| *s == suffix)
                .map_or_else(|| json!({"kind": "absent"}), |(_, v)| v.clone());
            let theirs = match items.iter().find(|(s, _)| *s == suffix) {
                Some((_, item)) => theirs_of(item, &ours),
                None => Err(match &frame_error {
                    Some(e) => format!("nothing for this line: the whole frame failed ({e})"),
                    None => "chzzkpy reported nothing for this item".to_owned(),
                }),
            };
            cases.push(Case::new(format!("{}{suffix}", f.id), ours, theirs));
        }
    }
    Ok(cases)
}

/// Writes the input of `crates/chzzk-chat/benches/decode.rs` (and `interop/bench_chzzkpy.py`)
/// to `path`: every text server frame of the Chzzk fixtures, placeholders filled, as
/// `{"frames": [{"text", "channel_id", "chat_channel_id"}]}` in fixture order. The chat
/// channel is the frame's `cid` (as for the oracle). Binary frames are left out: chzzkpy skips
/// them unread, so they would time nothing on its side. Returns how many frames it wrote.
pub(crate) fn write_bench_frames(path: &Path) -> Result<usize, String> {
    let listed: Vec<Value> = frames()?
        .into_iter()
        .filter(|f| !f.binary)
        .map(|f| {
            let raw: Value = serde_json::from_str(&f.text).unwrap_or(Value::Null);
            let chat_channel_id = raw["cid"].as_str().unwrap_or_default().to_owned();
            json!({"text": f.text, "channel_id": f.channel_id, "chat_channel_id": chat_channel_id})
        })
        .collect();
    let n = listed.len();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let doc = json!({ "frames": listed });
    std::fs::write(path, doc.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(n)
}

/// chzzkpy's item: its projection, or what it raised. An item both sides reject agrees,
/// unless chzzkpy's exception is fatal to its client.
fn theirs_of(item: &Value, ours: &Value) -> Result<Value, String> {
    if let Some(v) = item.get("ok") {
        return Ok(v.clone());
    }
    let error = item["error"]
        .as_str()
        .unwrap_or("(no error text)")
        .to_owned();
    let fatal = item["fatal"].as_bool().unwrap_or(true);
    if *ours == rejected() && !fatal {
        Ok(rejected())
    } else if fatal {
        Err(format!(
            "{error} (escapes the receive loop: chzzkpy's client stops)"
        ))
    } else {
        Err(error)
    }
}

/// Every server frame of the Chzzk fixtures, with placeholders filled in as the replay server
/// fills them (captured values from the client's frames in script order).
fn frames() -> Result<Vec<Frame>, String> {
    let dir = project_root().join("fixtures/chzzk");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let fixture = Fixture::load(&path)
            .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
        if fixture.header.platform != "chzzk" {
            continue;
        }
        let channel_id = fixture.header.config["channel_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut vars = Vars::new();
        vars.insert("http_base".into(), json!("http://127.0.0.1:9"));
        vars.insert("ws_base".into(), json!("ws://127.0.0.1:9"));
        for step in &fixture.steps {
            let (text, binary) = match &step.kind {
                StepKind::Http { request, .. } => {
                    for v in request.query.values() {
                        pattern::instantiate(v, &mut vars);
                    }
                    if let Some(Payload::Json(v)) = &request.body {
                        pattern::instantiate(v, &mut vars);
                    }
                    continue;
                }
                StepKind::ClientFrame { payload, .. } => {
                    match payload {
                        Payload::Json(v) => drop(pattern::instantiate(v, &mut vars)),
                        Payload::Text(t) => drop(pattern::instantiate_str(t, &mut vars)),
                        _ => {}
                    }
                    continue;
                }
                StepKind::ServerFrame { payload, .. } => match payload {
                    Payload::Json(v) => (pattern::substitute(v, &vars)?.to_string(), false),
                    Payload::Text(t) => (pattern::substitute_str(t, &vars)?, false),
                    Payload::Binary(b) => (String::from_utf8_lossy(b).into_owned(), true),
                    Payload::Form(_) => {
                        return Err(format!("{}:{}: a form frame", path.display(), step.line));
                    }
                },
                _ => continue,
            };
            out.push(Frame {
                id: format!("{}:{}", fixture.name(), step.line),
                channel_id: channel_id.clone(),
                ours: ours(&channel_id, &text),
                text,
                binary,
            });
        }
    }
    Ok(out)
}

fn rejected() -> Value {
    json!({"kind": "rejected"})
}

fn ignored() -> Value {
    json!({"kind": "ignored"})
}

/// What chzzk-chat makes of one frame, as items.
fn ours(channel_id: &str, text: &str) -> Vec<(String, Value)> {
    let raw: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let chat_channel_id = raw["cid"].as_str().unwrap_or_default();
    let one = |v: Value| vec![(String::new(), v)];
    match decode_frame(channel_id, chat_channel_id, text) {
        Err(_) => one(rejected()),
        Ok(DecodedFrame::Ping) => one(json!({"kind": "ping"})),
        Ok(DecodedFrame::Pong) => one(ignored()),
        Ok(DecodedFrame::Connected {
            ret_code: 0, sid, ..
        }) => one(json!({"kind": "connected", "sid": sid})),
        Ok(DecodedFrame::Connected {
            ret_code, ret_msg, ..
        }) => one(json!({"kind": "connect_failed", "ret_code": ret_code, "ret_msg": ret_msg})),
        Ok(DecodedFrame::RecentChat {
            chat: Some(chat),
            bad_lines,
            ..
        }) => {
            let total = chat.messages.len() + bad_lines.len();
            let mut items = one(json!({
                "kind": "recent_chat",
                "user_count": chat.user_count,
                "lines": total,
                "notice": chat.notice.as_ref().map(pin),
            }));
            // Entries that are objects decode (in order); the others are the bad lines.
            let entries = raw["bdy"]["messageList"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let objects: Vec<bool> = if entries.len() == total {
                entries.iter().map(Value::is_object).collect()
            } else {
                (0..total).map(|i| i < chat.messages.len()).collect()
            };
            let mut messages = chat.messages.iter();
            for (i, is_object) in objects.into_iter().enumerate() {
                let v = if is_object {
                    messages.next().map_or_else(rejected, recent_line)
                } else {
                    rejected()
                };
                items.push((format!("#{i}"), v));
            }
            items
        }
        Ok(DecodedFrame::RecentChat {
            ret_code, ret_msg, ..
        }) => one(json!({"kind": "recent_chat_failed", "ret_code": ret_code, "ret_msg": ret_msg})),
        Ok(DecodedFrame::SessionEnded) => one(json!({"kind": "session_ended"})),
        Ok(DecodedFrame::Events(events)) => {
            let items: Vec<Value> = events
                .iter()
                .map(|e| e.as_ref().map_or_else(|_| rejected(), event))
                .collect();
            match items.len() {
                0 => one(ignored()),
                1 => one(items[0].clone()),
                _ => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("#{i}"), v))
                    .collect(),
            }
        }
        Ok(other) => one(json!({"kind": format!("unprojected: {other:?}")})),
    }
}

fn event(e: &Event) -> Value {
    match e {
        Event::Chat(m) => line("chat", m, chat_extras(&m.extras), true),
        Event::Donation(m) => line("donation", m, donation_extras(&m.extras), true),
        Event::Subscription(m) => line("subscription", m, subscription_extras(&m.extras), true),
        Event::SubscriptionGift(m) => line("subscription_gift", m, gift_extras(&m.extras), false),
        Event::SystemMessage(m) => line("system_message", m, system_extras(&m.extras), true),
        Event::Pin(n) => pin(n),
        Event::Unpin(_) => json!({"kind": "unpin"}),
        Event::Blind(b) => blind(b),
        Event::MissionPending(m)
        | Event::MissionApproved(m)
        | Event::MissionRejected(m)
        | Event::MissionCompleted(m)
        | Event::MissionExpired(m)
        | Event::MissionUpdated(m)
        | Event::MissionParticipation(m) => json!({
            "kind": e.kind(),
            "pay_amount": m.pay_amount,
            "is_anonymous": m.is_anonymous,
            "mission": mission(m, matches!(e, Event::MissionParticipation(_))),
        }),
        other => json!({"kind": other.kind()}),
    }
}

/// A line of a recent-chat answer. chzzkpy reads every one as a chat line; we keep its type.
fn recent_line(l: &Line) -> Value {
    match l {
        Line::Chat(m) => line("chat", m, chat_extras(&m.extras), true),
        Line::Donation(m) => line("donation", m, donation_extras(&m.extras), true),
        Line::Subscription(m) => line("subscription", m, subscription_extras(&m.extras), true),
        Line::SubscriptionGift(m) => line("subscription_gift", m, gift_extras(&m.extras), false),
        Line::System(m) => line("system_message", m, system_extras(&m.extras), true),
        Line::Other(m) => json!({"kind": format!("line:{}", m.message_type.code())}),
        other => json!({"kind": format!("unprojected line: {:?}", other.raw())}),
    }
}

fn line<E>(kind: &str, m: &Message<E>, extras: Value, detail: bool) -> Value {
    let mut v = json!({
        "kind": kind,
        "type": m.message_type.code(),
        "chat_channel_id": m.chat_channel_id,
        "user_id": m.user_id,
        "text": m.content,
        "time_ms": m.time_ms,
        "created_ms": m.created_ms,
        "profile": profile(m.profile.as_ref()),
    });
    if detail {
        v["status"] = json!(status(&m.status));
        v["member_count"] = json!(m.member_count);
    }
    v["extras"] = extras;
    v
}

fn pin(n: &NoticeMessage) -> Value {
    json!({
        "kind": "pin",
        "type": n.message_type.code(),
        "chat_channel_id": n.chat_channel_id,
        "user_id": n.user_id,
        "text": n.content,
        "time_ms": n.time_ms,
        "created_ms": n.created_ms,
        "profile": profile(n.profile.as_ref()),
        "extras": chat_extras(&n.extras.chat),
        "register_profile": profile(n.extras.register_profile.as_ref()),
    })
}

fn blind(b: &Blind) -> Value {
    let kind = match &b.kind {
        BlindKind::CleanBot => "CBOTBLIND",
        BlindKind::Hidden => "HIDDEN",
        BlindKind::Blind => "BLIND",
        BlindKind::Cancel => "CANCEL",
        BlindKind::Reclaim => "RECLAIM",
        BlindKind::Filtered => "FILTERED",
        BlindKind::Other(s) => s,
        _ => "?",
    };
    json!({
        "kind": "blind",
        "blind_type": kind,
        "user_id": b.user_id,
        "time_ms": b.message_time_ms,
        "blind_user_id": b.blind_user_id,
        "message": b.message,
    })
}

fn status(s: &MessageStatus) -> &str {
    match s {
        MessageStatus::Normal => "NORMAL",
        MessageStatus::CleanBotBlind => "CBOTBLIND",
        MessageStatus::Blind => "BLIND",
        MessageStatus::Other(s) => s,
        _ => "?",
    }
}

fn role(r: &UserRole) -> &str {
    match r {
        UserRole::CommonUser => "common_user",
        UserRole::Streamer => "streamer",
        UserRole::StreamingChatManager => "streaming_chat_manager",
        UserRole::StreamingChannelManager => "streaming_channel_manager",
        UserRole::StreamingSettlementManager => "streaming_settlement_manager",
        UserRole::Manager => "manager",
        UserRole::Other(s) => s,
        _ => "?",
    }
}

fn profile(p: Option<&Profile>) -> Value {
    let Some(p) = p else { return Value::Null };
    let sp = &p.streaming_property;
    // chzzkpy merges the role badge (an image) and the title (a name) into one badge.
    let badge = if p.badge.is_none() && p.title.is_none() {
        Value::Null
    } else {
        json!({
            "name": p.title.as_ref().map(|t| &t.name),
            "image_url": p.badge.as_ref().and_then(|b| b.image_url.as_ref()),
        })
    };
    json!({
        "user_id_hash": p.user_id_hash,
        "nickname": p.nickname,
        "image_url": p.profile_image_url,
        "role": p.user_role.as_ref().map(role),
        "verified_mark": p.verified_mark,
        "badge": badge,
        "color": p.title.as_ref().and_then(|t| t.color.as_ref()),
        "nickname_color": sp.nickname_color,
        "subscription": sp.subscription.as_ref().map(|s| json!({
            "month": s.accumulative_month,
            "tier": s.tier,
            "badge_image_url": s.badge_image_url,
        })),
        "donation_ranking_badge": sp.donation_ranking_badge.as_ref().map(|b| json!({
            "name": b.title,
            "image_url": b.image_url,
        })),
        "activity_badges": p.activity_badges.iter().map(|a| json!({
            "badge_no": a.badge_no,
            "badge_id": a.badge_id,
            "name": a.name,
            "image_url": a.image_url,
            "activated": a.activated,
        })).collect::<Vec<_>>(),
        "viewer_badges": p.viewer_badges.iter().flatten().map(|v| json!({
            "type": v.kind,
            "badge_id": v.badge_id,
            "scope": v.scope,
            "image_url": v.image_url,
        })).collect::<Vec<_>>(),
    })
}

fn chat_extras(e: &ChatExtras) -> Value {
    json!({
        "chat_type": e.chat_type,
        "os_type": e.os_type,
        "streaming_channel_id": e.streaming_channel_id,
        "emojis": e.emojis.iter().collect::<BTreeMap<_, _>>(),
    })
}

fn rank(r: &DonationRank) -> Value {
    json!({
        "user_id_hash": r.user_id_hash,
        "nickname": r.nickname,
        "verified_mark": r.verified_mark,
        "donation_amount": r.donation_amount,
        "ranking": r.ranking,
    })
}

fn donation_kind(k: &DonationKind) -> &str {
    match k {
        DonationKind::Chat => "CHAT",
        DonationKind::Video => "VIDEO",
        DonationKind::Mission => "MISSION",
        DonationKind::MissionParticipation => "MISSION_PARTICIPATION",
        DonationKind::Party => "PARTY",
        DonationKind::Other(s) => s,
        _ => "?",
    }
}

/// A mission; times and duration only where chzzkpy models them (not for participations).
fn mission(m: &Mission, participation: bool) -> Value {
    let status = m.status.as_ref().map(|s| match s {
        MissionStatus::Pending => "PENDING",
        MissionStatus::Approved => "APPROVED",
        MissionStatus::Rejected => "REJECTED",
        MissionStatus::Completed => "COMPLETED",
        MissionStatus::Expired => "EXPIRED",
        MissionStatus::Other(s) => s,
        _ => "?",
    });
    let mut v = json!({
        "mission_donation_id": m.mission_donation_id,
        "mission_donation_type": m.mission_donation_type,
        "related_mission_donation_id": m.related_mission_donation_id,
        "mission_text": m.mission_text,
        "total_pay_amount": m.total_pay_amount,
        "participation_count": m.participation_count,
        "status": status,
        "success": m.success,
        "donation_id": m.donation_id,
        "user_id_hash": m.user_id_hash,
        "nickname": m.nickname,
    });
    if !participation {
        v["mission_created_time"] = json!(m.mission_created_time);
        v["mission_start_time"] = json!(m.mission_start_time);
        v["mission_end_time"] = json!(m.mission_end_time);
        v["duration_time"] = json!(m.duration_time);
    }
    v
}

fn donation_extras(d: &Donation) -> Value {
    json!({
        "donation_type": donation_kind(&d.kind),
        "pay_type": d.pay_type,
        "pay_amount": d.pay_amount,
        "is_anonymous": d.is_anonymous,
        "weekly_rank_list": d.weekly_rank_list.iter().map(rank).collect::<Vec<_>>(),
        "user_weekly_rank": d.user_weekly_rank.as_ref().map(rank),
        "mission": d
            .mission
            .as_ref()
            .map(|m| mission(m, d.kind == DonationKind::MissionParticipation)),
    })
}

fn subscription_extras(s: &Subscription) -> Value {
    json!({
        "month": s.month,
        "tier_name": s.tier_name,
        "tier_no": s.tier_no,
        "nickname": s.nickname,
    })
}

fn gift_extras(g: &SubscriptionGift) -> Value {
    json!({
        "gift_id": g.gift_id,
        "gift_type": g.gift_type,
        "selection_type": g.selection_type,
        "gift_tier_no": g.gift_tier_no,
        "gift_tier_name": g.gift_tier_name,
        "quantity": g.quantity,
        "partial_refunded_quantity": g.partial_refunded_quantity,
        "sender_user_id_hash": g.sender_user_id_hash,
        "receiver_user_id_hash": g.receiver_user_id_hash,
        "receiver_nickname": g.receiver_nickname,
        "receiver_verified_mark": g.receiver_verified_mark,
    })
}

fn system_extras(s: &SystemExtras) -> Value {
    json!({
        "description": s.description,
        "style_type": s.style_type,
        "visible_roles": s.visible_roles,
        "register_nickname": s.register_nickname,
        "target_nickname": s.target_nickname,
        "register_profile": profile(s.register_profile.as_ref()),
        "target_profile": profile(s.target_profile.as_ref()),
    })
}
