// components-js chat (@livekit/components-core `setupChat`) on a real livekit-client `Room`,
// and @livekit/protocol's `DataPacket`, as an oracle for livekit-chat. Run by
// `cargo xtask interop` (oracle `livekit-js`) with the path of an input JSON document made by
// xtask/src/interop/livekit.rs; prints one JSON document.
//
// No server and no WebRTC: each `Room` is livekit-client's own, never connected. Incoming
// bytes enter where the data channel hands them to the SDK (`RTCEngine.handleDataMessage`:
// `DataPacket.fromBinary`, the room's dispatch, the real text-stream reassembly, then
// `setupChat`'s handlers). Outgoing packets are taken where the SDK hands them to the data
// channel (`RTCEngine.sendDataPacket`), after livekit-client built them.
//
// Input:
//   {"ours":   [{"scenario", "server_version", "packets": [{"hex", "delivered"}]}],
//    "theirs": [{"scenario", "server_version", "remote_protocol",
//                "actions": [{"send": text, "options"?} | {"proto_send": text} | {"proto_edit": text}]}]}
// Output:
//   {"ours":    [{"scenario", "packets": [json | {"rejected"}], "messages": [entry], "chat_events": [event]}],
//    "theirs":  [{"scenario", "returned": [entry], "sent": [{"hex", "reliable", "delivered", "json", "legacy"?}],
//                 "messages": [entry], "chat_events": [event]}],
//    "encoded": [{"name", "hex", "json"}]}
// `hex` of packets we sent carry the sender's identity, stamped as the server does.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// ES imports ignore NODE_PATH; resolve from the npm folder (our working directory).
const require = createRequire(path.join(process.cwd(), 'node_modules/'));
const lk = require('livekit-client');
const core = require('@livekit/components-core');
const proto = require('@livekit/protocol');

lk.setLogLevel('silent');

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
// Lets the SDK's async stream reading and the RxJS pipelines run (a turn of the event loop
// after each packet, a little longer before reading the results).
const settle = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A livekit-client Room as `identity`, with `remotes` ([identity, clientProtocol]) present. */
function makeRoom(identity, serverVersion, remotes) {
  const room = new lk.Room();
  room.localParticipant.identity = identity;
  room.serverInfo = { edition: 0, version: serverVersion };
  for (const [id, clientProtocol] of remotes) {
    room.getOrCreateParticipant(
      id,
      new proto.ParticipantInfo({ identity: id, sid: `PA_${id}`, clientProtocol }),
    );
  }
  // What the room does once connected: stream packets are handled instead of buffered.
  room.incomingDataStreamManager.setConnected(true);
  const sent = [];
  room.engine.sendDataPacket = async (packet, kind) => {
    sent.push({ bytes: packet.toBinary(), reliable: kind === lk.DataPacket_Kind.RELIABLE });
  };
  const chatEvents = [];
  room.on(lk.RoomEvent.ChatMessage, (msg, participant) => chatEvents.push(chatEvent(msg, participant)));
  return { room, sent, chatEvents };
}

/** Feeds wire bytes to a room as its data channel would. */
async function receive(room, bytes) {
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  await room.engine.handleDataMessage({ data });
}

/** A `ReceivedChatMessage` of setupChat's list. */
function entry(m) {
  return {
    id: m.id ?? null,
    message: m.message ?? null,
    timestamp: m.timestamp ?? null,
    editTimestamp: m.editTimestamp ?? null,
    from: m.from?.identity ?? null,
    deleted: m.deleted === true,
    attributes: m.attributes ?? {},
  };
}

/** A `RoomEvent.ChatMessage` (the protobuf chat message). */
function chatEvent(m, participant) {
  return {
    id: m.id,
    message: m.message,
    timestamp: m.timestamp,
    editTimestamp: m.editTimestamp ?? null,
    from: participant?.identity ?? null,
    deleted: m.deleted === true,
  };
}

function packetJson(bytes) {
  try {
    return proto.DataPacket.fromBinary(bytes).toJson();
  } catch (e) {
    return { rejected: String(e) };
  }
}

/** Whether the server forwards the packet to `to` (data streams need a server > 1.8.2). */
function delivered(bytes, serverVersion, to) {
  const p = proto.DataPacket.fromBinary(bytes);
  const isStream = ['streamHeader', 'streamChunk', 'streamTrailer'].includes(p.value.case);
  if (isStream && lk.compareVersions(serverVersion, '1.8.2') <= 0) return false;
  return p.destinationIdentities.length === 0 || p.destinationIdentities.includes(to);
}

/** Our packets through a JS receiver `js` (we are `rust`). */
async function receiveOurs(scenario) {
  const { room, chatEvents } = makeRoom('js', scenario.server_version, [['rust', 0]]);
  const chat = core.setupChat(room);
  let messages = [];
  chat.messageObservable.subscribe((list) => {
    messages = list;
  });
  const packets = [];
  for (const p of scenario.packets) {
    const bytes = unhex(p.hex);
    packets.push(packetJson(bytes));
    if (p.delivered) {
      await receive(room, bytes);
      await settle();
    }
  }
  await settle(20);
  return { scenario: scenario.scenario, packets, messages: messages.map(entry), chat_events: chatEvents };
}

/** What components-js sends (as `js`, to `rust`), and what a JS receiver `rust` makes of it. */
async function sendTheirs(scenario) {
  const sender = makeRoom('js', scenario.server_version, [['rust', scenario.remote_protocol]]);
  const chat = core.setupChat(sender.room);
  const returned = [];
  let last;
  for (const action of scenario.actions) {
    if ('send' in action) {
      returned.push(entry(await chat.send(action.send, action.options ? { ...action.options } : undefined)));
    } else if ('proto_send' in action) {
      last = await sender.room.localParticipant.sendChatMessage(action.proto_send);
      returned.push(chatEvent(last, sender.room.localParticipant));
    } else if ('proto_edit' in action) {
      last = await sender.room.localParticipant.editChatMessage(action.proto_edit, last);
      returned.push(chatEvent(last, sender.room.localParticipant));
    }
  }

  const receiver = makeRoom('rust', scenario.server_version, [['js', 0]]);
  const rchat = core.setupChat(receiver.room);
  let messages = [];
  rchat.messageObservable.subscribe((list) => {
    messages = list;
  });
  const sent = [];
  for (const s of sender.sent) {
    // The server stamps the sender's identity.
    const p = proto.DataPacket.fromBinary(s.bytes);
    p.participantIdentity = 'js';
    const bytes = p.toBinary();
    const isDelivered = delivered(bytes, scenario.server_version, 'rust');
    const out = { hex: hex(bytes), reliable: s.reliable, delivered: isDelivered, json: p.toJson() };
    if (p.value.case === 'user') {
      // What components-core's legacy decoder makes of the payload.
      out.legacy = JSON.parse(new TextDecoder().decode(p.value.value.payload));
    }
    sent.push(out);
    if (isDelivered) {
      await receive(receiver.room, bytes);
      await settle();
    }
  }
  await settle(20);
  return {
    scenario: scenario.scenario,
    returned,
    sent,
    messages: messages.map(entry),
    chat_events: receiver.chatEvents,
  };
}

/** Packets built with @livekit/protocol directly, covering the fields chat uses. */
function encoded() {
  const { DataPacket } = proto;
  const text = new TextEncoder();
  const packets = {
    'user-lossy-with-destinations': new DataPacket({
      kind: proto.DataPacket_Kind.LOSSY,
      participantIdentity: 'js',
      destinationIdentities: ['rust', 'py'],
      value: {
        case: 'user',
        value: new proto.UserPacket({
          payload: text.encode('{"id":"x","message":"hé","timestamp":1700000000123}'),
          topic: 'lk-chat-topic',
        }),
      },
    }),
    'user-reliable-sequenced': new DataPacket({
      participantIdentity: 'js',
      participantSid: 'PA_js',
      sequence: 7,
      value: { case: 'user', value: new proto.UserPacket({ payload: new Uint8Array([0, 255]), topic: 'other' }) },
    }),
    'chat-message-edited': new DataPacket({
      value: {
        case: 'chatMessage',
        value: new proto.ChatMessage({
          id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
          timestamp: 1700000000123n,
          editTimestamp: 1700000000999n,
          message: 'edited ✓',
          deleted: false,
          generated: true,
        }),
      },
    }),
    'chat-message-deleted': new DataPacket({
      value: {
        case: 'chatMessage',
        value: new proto.ChatMessage({ id: 'x', timestamp: 5n, message: '', deleted: true }),
      },
    }),
    'stream-header-text-update': new DataPacket({
      destinationIdentities: ['rust'],
      value: {
        case: 'streamHeader',
        value: new proto.DataStream_Header({
          streamId: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
          timestamp: 1700000000123n,
          topic: 'lk.chat',
          mimeType: 'text/plain',
          totalLength: 40000n,
          attributes: { 'lk.segment_id': 'seg', k: 'v' },
          contentHeader: {
            case: 'textHeader',
            value: new proto.DataStream_TextHeader({
              operationType: proto.DataStream_OperationType.UPDATE,
              version: 2,
              replyToStreamId: 'e0000000-0000-4000-8000-000000000000',
              attachedStreamIds: ['a1', 'a2'],
              generated: true,
            }),
          },
        }),
      },
    }),
    'stream-header-inline-deflate': new DataPacket({
      value: {
        case: 'streamHeader',
        value: new proto.DataStream_Header({
          streamId: 's',
          timestamp: 1n,
          topic: 'lk.chat',
          mimeType: 'text/plain',
          totalLength: 0n,
          contentHeader: { case: 'textHeader', value: new proto.DataStream_TextHeader({}) },
          inlineContent: new Uint8Array([0x03, 0x00]),
          compression: proto.DataStream_CompressionType.DEFLATE_RAW,
        }),
      },
    }),
    'stream-header-bytes': new DataPacket({
      value: {
        case: 'streamHeader',
        value: new proto.DataStream_Header({
          streamId: 'a1',
          timestamp: 1700000000123n,
          topic: 'lk.chat',
          mimeType: 'image/png',
          totalLength: 3n,
          contentHeader: { case: 'byteHeader', value: new proto.DataStream_ByteHeader({ name: 'dot.png' }) },
        }),
      },
    }),
    'stream-chunk': new DataPacket({
      value: {
        case: 'streamChunk',
        value: new proto.DataStream_Chunk({
          streamId: 's',
          chunkIndex: 3n,
          content: text.encode('가나다'),
          version: 1,
        }),
      },
    }),
    'stream-trailer-aborted': new DataPacket({
      value: {
        case: 'streamTrailer',
        value: new proto.DataStream_Trailer({ streamId: 's', reason: 'cancelled', attributes: { final: 'true' } }),
      },
    }),
  };
  return Object.entries(packets).map(([name, p]) => ({ name, hex: hex(p.toBinary()), json: p.toJson() }));
}

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const output = { ours: [], theirs: [], encoded: encoded() };
for (const s of input.ours) output.ours.push(await receiveOurs(s));
for (const s of input.theirs) output.theirs.push(await sendTheirs(s));
// The rooms hold timers; exit once the document is written.
process.stdout.write(JSON.stringify(output), () => process.exit(0));
