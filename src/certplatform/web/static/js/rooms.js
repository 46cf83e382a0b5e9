// A study room: chat, presence and the shared Pomodoro over Socket.IO (namespace /study).
// Message bodies arrive as HTML the server rendered from Markdown with raw HTML off;
// everything else (names, codes) is set as text.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root || typeof io === "undefined") return;
  var T = JSON.parse(document.getElementById("room-strings").textContent);
  // STUN/TURN from the settings; TURN with a time-limited credential for this user.
  var ICE = JSON.parse(document.getElementById("room-ice").textContent);
  root.iceServers = ICE; // read by the browser test
  var roomId = root.dataset.room;
  var me = root.dataset.me;
  var moderator = root.dataset.moderator === "true";
  var statusEl = document.getElementById("room-status");
  var list = document.getElementById("messages");
  var people = document.getElementById("people");
  var form = document.getElementById("say");
  var body = document.getElementById("say-body");
  var sendBtn = document.getElementById("say-send");
  var cancelBtn = document.getElementById("say-cancel");
  var errorEl = document.getElementById("say-error");
  var olderBtn = document.getElementById("older");
  var phaseEl = document.getElementById("timer-phase");
  var clockEl = document.getElementById("timer-clock");
  var editing = null;
  var timer = null;
  var skew = 0; // server clock minus this clock, in ms
  var lastPhase = null;

  function say(text) { statusEl.textContent = text; }

  var socket = io("/study", { transports: ["websocket", "polling"] });
  root.studySocket = socket; // the group exam's script (room-group.js) listens on it too

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(label, action) {
    var b = el("button", "link", label);
    b.type = "button";
    b.addEventListener("click", action);
    return b;
  }

  function render(m) {
    var item = document.getElementById("m-" + m.id) || el("li", "message");
    item.id = "m-" + m.id;
    item.textContent = "";
    var head = el("div", "message-head");
    head.appendChild(el("strong", "", m.author_name));
    var when = new Date(m.created_at);
    head.appendChild(el("span", "muted", " " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + (m.edited ? " · " + T.edited : "")));
    item.appendChild(head);
    if (m.deleted) {
      item.appendChild(el("p", "muted", T.deleted));
    } else if (m.hidden) {
      item.appendChild(el("p", "muted", T.hidden));
    } else {
      var content = el("div", "message-body");
      content.innerHTML = m.html; // server-rendered, raw HTML escaped (web/markdown.py)
      item.appendChild(content);
    }
    var actions = el("div", "message-actions");
    if (!m.deleted && !m.hidden && m.author_id === me) {
      actions.appendChild(button(T.edit, function () { startEdit(m); }));
      actions.appendChild(button(T.delete, function () { emit("delete", { message_id: m.id }); }));
    }
    if (moderator && !m.deleted) {
      actions.appendChild(button(m.hidden ? T.unhide : T.hide, function () {
        emit("hide", { message_id: m.id, hidden: !m.hidden });
      }));
    }
    if (actions.childNodes.length) item.appendChild(actions);
    item.dataset.body = m.body || "";
    return item;
  }

  function append(m) { list.appendChild(render(m)); }

  function emit(event, payload, done) {
    socket.emit(event, payload, function (reply) {
      if (!reply || !reply.ok) {
        errorEl.textContent = reply && reply.error ? reply.error.message : "";
        return;
      }
      errorEl.textContent = "";
      if (done) done(reply);
    });
  }

  function startEdit(m) {
    editing = m.id;
    body.value = m.body || "";
    sendBtn.textContent = T.save;
    cancelBtn.hidden = false;
    body.focus();
  }

  function stopEdit() {
    editing = null;
    body.value = "";
    sendBtn.textContent = T.send;
    cancelBtn.hidden = true;
  }

  function showPeople(list) {
    people.textContent = "";
    list.forEach(function (p) {
      var li = el("li", "", p.name + (p.user_id === me ? " " + T.you : ""));
      if (p.certification) li.appendChild(el("span", "muted", " · " + T.studying.replace("%(code)s", p.certification)));
      if (moderator && p.user_id !== me) {
        li.appendChild(document.createTextNode(" "));
        li.appendChild(button(T.remove, function () {
          if (window.confirm(T.remove_confirm)) emit("ban", { room_id: roomId, user_id: p.user_id });
        }));
      }
      people.appendChild(li);
    });
  }

  function setTimer(t, serverNow) {
    timer = t;
    skew = new Date(serverNow).getTime() - Date.now();
    lastPhase = null;
    tick();
  }

  function tick() {
    if (!timer || !timer.started_at) {
      phaseEl.textContent = T.stopped;
      clockEl.textContent = "";
      return;
    }
    var now = Date.now() + skew;
    var cycle = (timer.focus_seconds + timer.break_seconds) * 1000;
    var into = (now - new Date(timer.started_at).getTime()) % cycle;
    var focus = into < timer.focus_seconds * 1000;
    var left = Math.max(0, Math.ceil(((focus ? timer.focus_seconds * 1000 : cycle) - into) / 1000));
    var phase = focus ? "focus" : "break";
    phaseEl.textContent = focus ? T.focus : T["break"];
    clockEl.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (lastPhase && lastPhase !== phase) say(focus ? T.phase_focus : T.phase_break);
    lastPhase = phase;
  }
  window.setInterval(tick, 1000);

  socket.on("connect", function () {
    say(T.connected);
    socket.emit("join", { room_id: roomId }, function (reply) {
      if (!reply || !reply.ok) { say(reply && reply.error ? reply.error.message : T.refused); return; }
      list.textContent = "";
      reply.history.forEach(append);
      showPeople(reply.presence);
      setTimer(reply.room.timer, reply.now);
      root.dispatchEvent(new CustomEvent("room-joined", { detail: { now: reply.now } }));
    });
  });
  socket.on("connect_error", function (err) { say(err && err.message ? err.message : T.refused); });
  socket.on("disconnect", function (reason) {
    if (reason !== "io server disconnect") say(T.disconnected);
  });
  socket.on("banned", function () { say(T.banned); form.hidden = true; });
  socket.on("message", function (m) { if (m.room_id === roomId) append(m); });
  socket.on("message_changed", function (m) {
    var old = document.getElementById("m-" + m.id);
    if (old) render(m);
  });
  socket.on("presence", function (p) { if (p.room_id === roomId) showPeople(p.people); });
  socket.on("timer", function (t) { if (t.room_id === roomId) setTimer(t.timer, t.now); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = body.value.trim();
    if (!text) return;
    if (editing) emit("edit", { message_id: editing, body: text }, stopEdit);
    else emit("say", { room_id: roomId, body: text }, function () { body.value = ""; });
  });
  body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  cancelBtn.addEventListener("click", stopEdit);
  olderBtn.addEventListener("click", function () {
    var first = list.querySelector("li.message");
    emit("history", { room_id: roomId, before: first ? first.id.slice(2) : null }, function (reply) {
      if (!reply.messages.length) { say(T.no_more); olderBtn.hidden = true; return; }
      var anchor = list.firstChild;
      reply.messages.forEach(function (m) { list.insertBefore(render(m), anchor); });
    });
  });
  // --- the call: a WebRTC mesh, signalled over the socket (at most 4 people) -------------
  var call = { stream: null, peers: {} };
  root.studyCall = call; // read by the browser test (connection state, RTP statistics)
  var videos = document.getElementById("videos");
  var joinCall = document.getElementById("call-join");
  var leaveCall = document.getElementById("call-leave");

  function tile(id, name, stream, muted) {
    var fig = document.getElementById("v-" + id);
    if (!fig) {
      fig = el("figure");
      fig.id = "v-" + id;
      var video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = muted;
      fig.appendChild(video);
      fig.appendChild(el("figcaption", "", name));
      videos.appendChild(fig);
    }
    fig.querySelector("video").srcObject = stream;
  }

  function signal(to, kind, data) {
    socket.emit("signal", { room_id: roomId, to: to, kind: kind, data: data });
  }

  function connect(sid, name) {
    var pc = new RTCPeerConnection({ iceServers: ICE });
    call.peers[sid] = pc;
    call.stream.getTracks().forEach(function (t) { pc.addTrack(t, call.stream); });
    pc.onicecandidate = function (e) { if (e.candidate) signal(sid, "candidate", e.candidate.toJSON()); };
    pc.ontrack = function (e) { tile(sid, name, e.streams[0], false); };
    return pc;
  }

  function hangUp(sid) {
    var pc = call.peers[sid];
    if (pc) pc.close();
    delete call.peers[sid];
    var fig = document.getElementById("v-" + sid);
    if (fig) fig.remove();
  }

  function media() {
    return navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } })
      .catch(function () { return navigator.mediaDevices.getUserMedia({ audio: true }); });
  }

  joinCall.addEventListener("click", function () {
    media().then(function (stream) {
      call.stream = stream;
      tile("me", T.me_video, stream, true);
      emit("call_join", { room_id: roomId }, function (reply) {
        joinCall.hidden = true;
        leaveCall.hidden = false;
        say(T.call_joined);
        reply.peers.forEach(function (p) {
          var pc = connect(p.sid, p.name);
          pc.createOffer()
            .then(function (offer) { return pc.setLocalDescription(offer); })
            .then(function () { signal(p.sid, "offer", { type: "offer", sdp: pc.localDescription.sdp }); });
        });
      });
    }, function () { say(T.no_media); });
  });

  leaveCall.addEventListener("click", function () {
    emit("call_leave", { room_id: roomId }, function () {
      Object.keys(call.peers).forEach(hangUp);
      hangUp("me");
      if (call.stream) call.stream.getTracks().forEach(function (t) { t.stop(); });
      call.stream = null;
      joinCall.hidden = false;
      leaveCall.hidden = true;
      joinCall.focus();
    });
  });

  socket.on("signal", function (s) {
    if (s.room_id !== roomId || !call.stream) return;
    var pc = call.peers[s.from];
    if (s.kind === "offer") {
      pc = pc || connect(s.from, s.name);
      pc.setRemoteDescription(s.data)
        .then(function () { return pc.createAnswer(); })
        .then(function (answer) { return pc.setLocalDescription(answer); })
        .then(function () { signal(s.from, "answer", { type: "answer", sdp: pc.localDescription.sdp }); });
    } else if (pc && s.kind === "answer") {
      pc.setRemoteDescription(s.data);
    } else if (pc && s.kind === "candidate") {
      pc.addIceCandidate(s.data);
    }
  });
  socket.on("call_left", function (s) { if (s.room_id === roomId) hangUp(s.sid); });

  var start = document.getElementById("timer-start");
  var stop = document.getElementById("timer-stop");
  if (start) start.addEventListener("click", function () {
    emit("timer", { room_id: roomId, running: true, focus_minutes: 25, break_minutes: 5 });
  });
  if (stop) stop.addEventListener("click", function () { emit("timer", { room_id: roomId, running: false }); });
})();
