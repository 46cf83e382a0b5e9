// A study room's group mock exam (ADR 0030): the owner starts it; everyone sees each
// member's progress as counts ("문항 37/60"), never answers; each member opens their own
// exam page; once every answer sheet is graded the debrief link appears.
(function () {
  "use strict";
  var root = document.getElementById("room");
  var box = document.getElementById("group");
  if (!root || !box || !root.studySocket) return;
  var socket = root.studySocket;
  var T = JSON.parse(document.getElementById("room-strings").textContent);
  var roomId = root.dataset.room;
  var me = root.dataset.me;
  var statusEl = document.getElementById("group-status");
  var peopleEl = document.getElementById("group-people");
  var openEl = document.getElementById("group-open");
  var debriefEl = document.getElementById("group-debrief");
  var formEl = document.getElementById("group-form");
  var exam = null;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return String(values[key]); });
  }

  function text(tag, cls, value) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    node.textContent = value;
    return node;
  }

  function showPeople(list) {
    peopleEl.textContent = "";
    list.forEach(function (p) {
      var li = document.createElement("li");
      li.dataset.user = p.user_id;
      li.appendChild(text("span", "", p.name + (p.user_id === me ? " " + T.you : "") + " "));
      li.appendChild(text("strong", "group-count", fill(T.group_progress, { answered: p.answered, total: p.total })));
      var bar = text("span", "group-bar", ""); // the count above says it in words
      bar.setAttribute("aria-hidden", "true");
      var fillEl = text("span", "", "");
      fillEl.style.width = (p.total ? Math.round(100 * p.answered / p.total) : 0) + "%";
      bar.appendChild(fillEl);
      li.appendChild(bar);
      if (p.submitted) li.appendChild(text("span", "muted", " · " + T.group_submitted));
      peopleEl.appendChild(li);
    });
  }

  function show(state) {
    exam = state.exam;
    if (!exam) {
      statusEl.textContent = T.group_none;
      openEl.hidden = debriefEl.hidden = true;
      if (formEl) formEl.hidden = false;
      return;
    }
    showPeople(exam.people);
    var running = exam.state === "running";
    if (formEl) formEl.hidden = running;
    if (running) {
      var deadline = new Date(exam.deadline_at);
      var ends = deadline.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      statusEl.textContent = deadline.getTime() <= new Date(exam.server_time).getTime()
        ? T.group_waiting
        : fill(T.group_running, { form: exam.form_name, count: exam.people.length, time: ends }) +
          (exam.my_attempt_id ? "" : " " + T.group_late);
    } else {
      statusEl.textContent = T.group_finished;
    }
    openEl.hidden = !(running && exam.my_attempt_id);
    if (exam.my_attempt_id) openEl.href = "/exam/" + exam.my_attempt_id;
    debriefEl.hidden = !(exam.state === "finished" && exam.my_attempt_id);
    debriefEl.href = box.dataset.debrief + exam.id;
  }

  function refresh() {
    socket.emit("group_state", { room_id: roomId }, function (reply) {
      if (reply && reply.ok) show(reply);
    });
  }

  root.addEventListener("room-joined", refresh);
  socket.on("group_exam", function (e) { if (e.room_id === roomId) refresh(); });
  socket.on("group_progress", function (p) {
    if (p.room_id === roomId && exam && exam.id === p.group_exam_id) showPeople(p.people);
  });
  socket.on("group_finished", function (p) { if (p.room_id === roomId) refresh(); });
  if (formEl) formEl.addEventListener("submit", function (event) {
    event.preventDefault();
    var blueprint = document.getElementById("group-blueprint").value;
    socket.emit("group_start", { room_id: roomId, blueprint_id: blueprint }, function (reply) {
      if (!reply || !reply.ok) {
        statusEl.textContent = reply && reply.error ? reply.error.message : "";
        return;
      }
      refresh();
    });
  });
})();
