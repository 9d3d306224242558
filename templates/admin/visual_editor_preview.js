/* The visual editor's live preview: the document rendered by the server for the contact
   picked (or the sample contact), 400 ms after the last edit, in a sandboxed frame at
   desktop, 600 or 320 px, light or dark, with the content checks; and the test send. */
(function () {
  "use strict";
  var E = window.visualEditor, el = E.el, data = E.data;
  var $ = function (id) { return document.getElementById(id); };
  var frame = $("ve-frame"), timer = null, asked = 0, contactId = null;

  function refresh() {
    var mine = ++asked, state = E.state();
    clearTimeout(timer); waitingSince = null;
    E.post(data.urls.preview, {
      document: state.doc, subject: state.subject, preheader: state.preheader,
      contact_id: contactId, dark: $("ve-dark").checked,
      sender_id: $("ve-sender") ? +$("ve-sender").value : null
    }).then(function (r) {
      if (mine !== asked) { return; } // a newer edit is already on its way
      $("ve-preview-box").classList.remove("ve-stale");
      var checks = $("ve-checks");
      checks.innerHTML = "";
      if (r.html) {
        frame.srcdoc = r.html;
        $("ve-preview-subject").textContent = r.subject;
        $("ve-preview-preheader").textContent = r.preheader ? "— " + r.preheader : "";
        frame.setAttribute("data-rendered", String(mine));
        E.showProblems([]);
      } else {
        E.showProblems(r.problems || []);
        checks.appendChild(el("li", {"class": "text-danger", text: "The preview waits until the problems marked in red are fixed."}));
      }
      (r.checks || []).forEach(function (c) {
        checks.appendChild(el("li", {"class": c.ok ? "text-success" : (c.blocking ? "text-danger" : "text-warning"), "data-check": c.name},
                              [(c.ok ? "✓ " : (c.blocking ? "✗ " : "! ")) + c.label + ": " + c.message]));
      });
    });
  }
  // 400 ms after the last edit, and at least every 1.5 s while edits keep coming.
  var waitingSince = null;
  function schedule() {
    clearTimeout(timer);
    $("ve-preview-box").classList.add("ve-stale");
    var now = Date.now();
    waitingSince = waitingSince || now;
    timer = setTimeout(refresh, now - waitingSince > 1500 ? 0 : 400);
  }

  $("ve-widths").addEventListener("click", function (e) {
    var w = e.target.getAttribute("data-width");
    if (!w) { return; }
    Array.prototype.forEach.call(this.children, function (b) { b.classList.toggle("active", b === e.target); });
    frame.style.width = w === "desktop" ? "100%" : w + "px";
    frame.setAttribute("data-width", w);
  });
  $("ve-dark").addEventListener("change", refresh);

  // "Preview as": contacts of this project by email or name.
  var search = $("ve-contact"), list = $("ve-contact-list"), searchTimer = null;
  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    if (!search.value.trim()) { list.innerHTML = ""; contactId = null; refresh(); return; }
    searchTimer = setTimeout(function () {
      fetch(data.urls.contacts + "?q=" + encodeURIComponent(search.value.trim()), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (found) {
          list.innerHTML = "";
          if (!found.length) { list.appendChild(el("div", {"class": "list-group-item small text-muted", text: "No contact matches."})); }
          found.forEach(function (c) {
            var item = el("button", {type: "button", "class": "list-group-item list-group-item-action py-1 small", "data-contact": String(c.id)},
                          [c.name ? c.name + " " : "", el("span", {"class": "text-muted", text: "<" + c.email + ">"})]);
            item.addEventListener("click", function () {
              contactId = c.id; search.value = c.name ? c.name + " <" + c.email + ">" : c.email;
              list.innerHTML = ""; refresh();
            });
            list.appendChild(item);
          });
        });
    }, 250);
  });

  // Send a test of the saved draft (saved first when there are unsaved edits).
  var body = $("ve-test-body");
  if (!data.canSend) {
    body.appendChild(el("p", {"class": "text-muted mb-0", text: "Sending a test needs a role that may send campaigns (owner, admin or marketer)."}));
  } else if (!data.senders.length) {
    body.appendChild(el("p", {"class": "text-muted mb-0", text: "Add a sender first (Settings → Senders) to send tests."}));
  } else {
    var sender = el("select", {"class": "custom-select custom-select-sm mb-1", id: "ve-sender", "aria-label": "Sender"});
    data.senders.forEach(function (s) { sender.appendChild(el("option", {value: String(s.id), text: s.name})); });
    var to = el("textarea", {"class": "form-control form-control-sm mb-1", id: "ve-test-to", rows: "2",
                             placeholder: "Up to " + data.maxRecipients + " addresses, comma separated"});
    var go = el("button", {type: "button", "class": "btn btn-sm btn-primary", id: "ve-test-send", text: "Save and send test"});
    var result = el("div", {"class": "mt-1", id: "ve-test-result", role: "status"});
    go.addEventListener("click", function () {
      go.disabled = true; result.textContent = "Sending…";
      var ready = E.isSaved() && E.version() ? Promise.resolve(true) : E.save();
      ready.then(function (ok) {
        if (!ok) { go.disabled = false; result.textContent = "Not sent: the draft could not be saved."; return null; }
        return E.post(data.urls.testSend, {version_id: E.version().id, recipients: to.value,
                                           sender_id: +sender.value, contact_id: contactId})
          .then(function (r) {
            go.disabled = false;
            result.className = "mt-1 " + (r.sent ? "text-success" : "text-danger");
            result.textContent = r.error || (r.results || []).map(function (x) {
              return x.address + ": " + (x.outcome === "sent" ? "sent" : x.outcome + " (" + x.reply + ")");
            }).join("; ");
          });
      });
    });
    sender.addEventListener("change", schedule);
    [el("label", {"for": "ve-sender", "class": "mb-0", text: "From"}), sender,
     el("label", {"for": "ve-test-to", "class": "mb-0", text: "To"}), to, go, result]
      .forEach(function (n) { body.appendChild(n); });
  }
  window.visualEditorPreview = {schedule: schedule, refresh: refresh};
})();
