/* The segment builder: a tree of all/any/none groups and conditions picked from dropdowns,
   kept in sync with the rule's JSON (Advanced), with a debounced live count. The operators
   each field offers come from the server's table (mailapp/audience/segments/fields.py). */
(function () {
  "use strict";
  var box = document.getElementById("segment-builder");
  var area = document.getElementById("rule");
  if (!box || !area) { return; }
  var data = JSON.parse(document.getElementById("builder-data").textContent);
  var root = document.getElementById("b-root");
  var R = window.segmentRules(data);
  var fieldsByName = R.fieldsByName, attributes = R.attributes, OTHER = R.OTHER;
  var group = R.group, blank = R.blank, fromRule = R.fromRule;
  var kindOf = R.kindOf, operatorOf = R.operatorOf;
  var KIND_NAMES = {attribute_text: "text", attribute_number: "number",
                    attribute_date: "date", attribute_boolean: "yes / no"};
  var MODES = [["all", "all of these"], ["any", "any of these"], ["none", "none of these"]];
  var STATUSES = [["confirmed", "confirmed"], ["unconfirmed", "awaiting confirmation"],
                  ["unsubscribed", "unsubscribed"], ["any", "with any status"]];

  function toRule() { return R.toRule(state); }

  // --- drawing -----------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { e.appendChild(c); } });
    return e;
  }
  function select(role, label, options, current, onchange) {
    var s = el("select", {"class": "custom-select custom-select-sm", "data-role": role, "aria-label": label});
    options.forEach(function (o) {
      if (o.options) {
        var g = el("optgroup", {label: o.label});
        o.options.forEach(function (x) { g.appendChild(el("option", {value: x[0], text: x[1]})); });
        s.appendChild(g);
      } else { s.appendChild(el("option", {value: o[0], text: o[1]})); }
    });
    s.value = current;
    s.addEventListener("change", function () { onchange(s.value); });
    return s;
  }
  function label(key) { var t = key.replace(/_/g, " "); return t.charAt(0).toUpperCase() + t.slice(1); }
  function fieldOptions() {
    var groups = {}, order = [];
    data.fields.forEach(function (f) {
      if (!groups[f.group]) { groups[f.group] = []; order.push(f.group); }
      groups[f.group].push([f.field, f.label]);
    });
    var attrs = data.attributes.map(function (a) { return ["attributes." + a.key, label(a.key)]; });
    attrs.push([OTHER, "Other attribute…"]);
    var out = [["", "Choose a field…"]];
    order.forEach(function (g, i) {
      out.push({label: g, options: groups[g]});
      if (i === 0) { out.push({label: "Contact attributes", options: attrs}); }
    });
    return out;
  }
  function suggestions(c) {
    if (c.field === "tag") { return data.tags; }
    if (c.field.indexOf("attributes.") === 0 && attributes[c.key]) { return attributes[c.key].values; }
    return data.suggestions[c.field] || [];
  }
  var uid = 0;
  function valueInput(c, op, number, changed) {
    var label = "Value of condition " + number;
    var attrs = {"class": "form-control form-control-sm", "data-role": "value", "aria-label": label};
    var input;
    if (op.value === "boolean") {
      if (typeof c.value !== "boolean") { c.value = c.value !== "false"; }
      return select("value", label, [["true", "yes"], ["false", "no"]],
                    String(c.value === "" ? true : c.value), function (v) { c.value = v === "true"; changed(); });
    }
    if (op.value === "list") {
      var lists = [["", data.lists.length ? "Choose a list…" : "No lists yet"]].concat(
        data.lists.map(function (l) { return [String(l.id), l.name]; }));
      return select("value", label, lists, String(c.value), function (v) { c.value = v; changed(); });
    }
    attrs.type = {number: "number", days: "number", date: "date"}[op.value] || "text";
    if (op.value === "days") { attrs.min = "1"; attrs.max = "36500"; attrs.step = "1"; attrs.placeholder = "30"; }
    if (op.value === "texts") { attrs.placeholder = "Berlin, Hamburg"; }
    if (op.value === "text" || op.value === "tag") { attrs.placeholder = op.value === "tag" ? "tag" : "value"; }
    var known = suggestions(c);
    if (attrs.type === "text" && known.length) {
      attrs.list = "b-values-" + (++uid);
      var dl = el("datalist", {id: attrs.list});
      known.forEach(function (v) { dl.appendChild(el("option", {value: v})); });
    }
    input = el("input", attrs);
    input.value = Array.isArray(c.value) ? c.value.join(", ") : String(c.value);
    input.addEventListener("input", function () { c.value = input.value; changed(false); });
    return dl ? el("span", {}, [input, dl]) : input;
  }
  function drawCondition(c, parent, counter) {
    var number = c.field ? String(++counter.n) : "";
    var redraw = function (full) { if (full !== false) { draw(); } sync(); };
    var row = el("div", {"class": "b-cond", "data-condition": number});
    row.appendChild(el("span", {"class": "badge badge-secondary b-num", title: "Condition " + number, text: number || "new"}));
    row.appendChild(select("field", "Field of condition " + (number || "new"), fieldOptions(),
      c.field === OTHER || c.field.indexOf("attributes.") !== 0 ? c.field : "attributes." + c.key,
      function (v) {
        c.field = v; c.op = ""; c.value = ""; c.status = "confirmed";
        if (v.indexOf("attributes.") === 0 && v !== OTHER) {
          c.key = v.slice("attributes.".length); c.kind = attributes[c.key].kind;
        } else if (v === OTHER) { c.key = ""; c.kind = "attribute_text"; }
        var ops = data.kinds[kindOf(c)] || [];
        if (ops.length) { c.op = ops[0].op; }  // the first operator is the usual one: "is"
        redraw();
      }));
    if (c.field === OTHER) {
      var name = el("input", {"class": "form-control form-control-sm", "data-role": "attribute",
                              placeholder: "attribute name", "aria-label": "Attribute name"});
      name.value = c.key;
      name.addEventListener("input", function () { c.key = name.value; redraw(false); });
      row.appendChild(name);
      row.appendChild(select("kind", "Kind of attribute", Object.keys(KIND_NAMES).map(function (k) {
        return [k, KIND_NAMES[k]]; }), c.kind, function (v) { c.kind = v; c.op = data.kinds[v][0].op; c.value = ""; redraw(); }));
    }
    if (c.field) {
      var ops = data.kinds[kindOf(c)] || [];
      row.appendChild(select("op", "Operator of condition " + number,
        [["", "Choose…"]].concat(ops.filter(function (o) { return o.offered || o.op === c.op; })
          .map(function (o) { return [o.op, o.label]; })), c.op,
        function (v) {
          var before = operatorOf(c);
          c.op = v;
          var after = operatorOf(c);
          if (!before || !after || before.value !== after.value) { c.value = ""; }
          redraw();
        }));
      var op = operatorOf(c);
      if (op && op.value !== "none") {
        row.appendChild(valueInput(c, op, number, redraw));
        if (op.value === "days") { row.appendChild(el("span", {"class": "small", text: "days"})); }
      }
      if (c.field === "list") {
        row.appendChild(select("status", "Subscription status", STATUSES, c.status,
          function (v) { c.status = v; redraw(false); }));
      }
    }
    row.appendChild(el("button", {type: "button", "class": "btn btn-sm btn-link text-danger",
                                  "data-role": "remove", title: "Remove this condition", text: "Remove"}));
    row.lastChild.addEventListener("click", function () { remove(parent, c); });
    var hint = fieldsByName[c.field] && fieldsByName[c.field].hint;
    if (hint) { row.appendChild(el("small", {"class": "b-hint text-muted", text: hint})); }
    return row;
  }
  function remove(parent, node) {
    parent.children.splice(parent.children.indexOf(node), 1);
    draw(); sync();
  }
  function drawGroup(g, parent, counter) {
    var box = el("div", {"class": "b-group", "data-group": g.mode});
    var head = el("div", {"class": "form-inline small mb-1"}, [
      el("span", {"class": "mr-1", text: parent ? "Matching" : "Contacts matching"}),
      select("mode", "How the conditions combine", MODES, g.mode, function (v) { g.mode = v; draw(); sync(); }),
      el("span", {"class": "ml-1", text: "conditions:"})
    ]);
    box.appendChild(head);
    g.children.forEach(function (child) {
      box.appendChild(child.group ? drawGroup(child, g, counter) : drawCondition(child, g, counter));
    });
    var add = el("button", {type: "button", "class": "btn btn-sm btn-outline-primary mr-1", "data-role": "add-condition", text: "+ Add condition"});
    add.addEventListener("click", function () { g.children.push(blank()); draw(); });
    var sub = el("button", {type: "button", "class": "btn btn-sm btn-outline-secondary mr-1", "data-role": "add-group", text: "+ Add group"});
    sub.addEventListener("click", function () { g.children.push(group("any", [blank()])); draw(); });
    var tools = el("div", {"class": "mt-1"}, [add, sub]);
    if (parent) {
      var drop = el("button", {type: "button", "class": "btn btn-sm btn-link text-danger", "data-role": "remove-group", text: "Remove group"});
      drop.addEventListener("click", function () { remove(parent, g); });
      tools.appendChild(drop);
    }
    box.appendChild(tools);
    return box;
  }
  function draw() {
    root.textContent = "";
    root.appendChild(drawGroup(state, null, {n: 0}));
  }

  // --- live count ----------------------------------------------------------------------------
  var count = document.getElementById("segment-count");
  var words = document.getElementById("segment-description");
  var error = document.getElementById("segment-error");
  var timer = null, asked = 0;
  function show(n, text, problem) { count.textContent = n; words.textContent = text; error.textContent = problem || ""; }
  function preview(rule) {
    clearTimeout(timer);
    if (rule && Array.isArray(rule.all) && rule.all.length === 0) {
      show("–", "Add a condition to see how many contacts match.");
      return;
    }
    timer = setTimeout(function () {
      var mine = ++asked;
      words.textContent = "Counting…";
      fetch(box.dataset.previewUrl, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf},
        body: JSON.stringify({rule: rule})
      }).then(function (r) { return r.json(); }).then(function (d) {
        if (mine !== asked) { return; }  // an older answer arriving late
        if (d.error) { show("–", "Not counted yet.", d.error); return; }
        show(d.count.toLocaleString("en"), d.summary.replace(/^[\d,]+ /, ""));
      }).catch(function () { if (mine === asked) { show("–", "", "The count could not be fetched; try again."); } });
    }, 350);
  }
  function sync() {
    var rule = toRule();
    area.value = JSON.stringify(rule, null, 2);
    preview(rule);
  }
  area.addEventListener("input", function () {
    var rule;
    try { rule = JSON.parse(area.value); } catch (e) { show("–", "", "The JSON is not valid yet."); return; }
    state = fromRule(rule);
    draw();
    preview(rule);  // count what will be saved, exactly as typed
  });

  var initial = null, broken = false;
  try { initial = JSON.parse(area.value || "null"); } catch (e) { broken = true; }
  var state = fromRule(initial);
  draw();
  if (broken) {  // keep what was typed under Advanced so it can be fixed there
    document.getElementById("segment-advanced").open = true;
    show("–", "", "The JSON under Advanced is not valid yet.");
  } else { sync(); }
})();
