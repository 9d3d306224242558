/* Segment rules <-> the builder's tree of groups ({group, mode, children}) and conditions
   ({field, op, value, status, kind, key}). "none" groups are {"not": {"any": [...]}}; a row
   whose field is not chosen yet is no condition at all. */
window.segmentRules = function (data) {
  "use strict";
  var OTHER = "attributes.*";
  var fieldsByName = {};
  data.fields.forEach(function (f) { fieldsByName[f.field] = f; });
  var attributes = {};
  data.attributes.forEach(function (a) { attributes[a.key] = a; });

  function group(mode, children) { return {group: true, mode: mode || "all", children: children || []}; }
  function blank() { return {group: false, field: "", op: "", value: "", status: "confirmed", kind: "", key: ""}; }

  // --- JSON -> tree ------------------------------------------------------------------------
  function guessKind(op, value) {
    if (typeof value === "boolean") { return "attribute_boolean"; }
    if (typeof value === "number" || ["gt", "gte", "lt", "lte"].indexOf(op) >= 0) { return "attribute_number"; }
    if (op === "before" || op === "after") { return "attribute_date"; }
    return "attribute_text";
  }
  // Whether a saved condition reads the same under this attribute kind (else it keeps its own).
  function fits(kind, op, value) {
    var ops = (data.kinds[kind] || []).map(function (o) { return o.op; });
    if (ops.indexOf(op) < 0) { return false; }
    if (value === undefined || value === null || Array.isArray(value)) { return true; }
    var type = {attribute_number: "number", attribute_boolean: "boolean"}[kind] || "string";
    return typeof value === type;
  }
  function fromCondition(node) {
    var c = blank();
    c.field = typeof node.field === "string" ? node.field : "";
    c.op = typeof node.op === "string" ? node.op : "";
    c.value = node.value === undefined || node.value === null ? "" : node.value;
    c.status = node.status || "confirmed";
    if (c.field.indexOf("attributes.") === 0) {
      c.key = c.field.slice("attributes.".length);
      c.kind = attributes[c.key] ? attributes[c.key].kind : "";
      if (!fits(c.kind, c.op, node.value)) { c.kind = guessKind(c.op, node.value); }
      if (!attributes[c.key]) { c.field = OTHER; }
    }
    return c;
  }
  function fromNode(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) { return blank(); }
    if (Array.isArray(node.all)) { return group("all", node.all.map(fromNode)); }
    if (Array.isArray(node.any)) { return group("any", node.any.map(fromNode)); }
    if (node.not && typeof node.not === "object") {
      var inner = node.not;
      return group("none", Array.isArray(inner.any) ? inner.any.map(fromNode) : [fromNode(inner)]);
    }
    return fromCondition(node);
  }
  function fromRule(rule) {
    if (!rule || typeof rule !== "object" || Object.keys(rule).length === 0) { return group("all", [blank()]); }
    var tree = fromNode(rule);
    return tree.group ? tree : group("all", [tree]);
  }

  // --- tree -> JSON ------------------------------------------------------------------------
  function kindOf(c) {
    if (c.field === OTHER || c.field.indexOf("attributes.") === 0) { return c.kind || "attribute_text"; }
    return fieldsByName[c.field] ? fieldsByName[c.field].kind : "";
  }
  function operatorOf(c) {
    return (data.kinds[kindOf(c)] || []).filter(function (o) { return o.op === c.op; })[0];
  }
  function valueOf(c, input) {
    var raw = c.value;
    if (input === "texts") {
      var parts = (Array.isArray(raw) ? raw : String(raw).split(","));
      return parts.map(function (s) { return String(s).trim(); }).filter(Boolean);
    }
    if (input === "boolean") { return raw === true || raw === "true"; }
    if (input === "number" || input === "days" || input === "list") {
      if (raw === "" || raw === null) { return undefined; }
      var n = Number(raw);
      return isFinite(n) ? n : String(raw);
    }
    return raw === "" ? undefined : (typeof raw === "string" ? raw.trim() : raw);
  }
  function toNode(node) {
    if (node.group) {
      var kids = node.children.map(toNode).filter(function (k) { return k !== null; });
      if (!kids.length) { return null; }
      if (node.mode === "none") { return {not: {any: kids}}; }
      var out = {}; out[node.mode] = kids; return out;
    }
    if (!node.field) { return null; }  // a row nobody has touched yet is not a condition
    var cond = {field: node.field === OTHER ? "attributes." + node.key.trim() : node.field};
    if (node.op) { cond.op = node.op; }
    var op = operatorOf(node);
    if (op && op.value !== "none") {
      var value = valueOf(node, op.value);
      if (value !== undefined) { cond.value = value; }
    }
    if (node.field === "list" && node.status !== "confirmed") { cond.status = node.status; }
    return cond;
  }

  return {
    OTHER: OTHER, fieldsByName: fieldsByName, attributes: attributes, group: group, blank: blank,
    fromRule: fromRule, kindOf: kindOf, operatorOf: operatorOf,
    toRule: function (state) { return toNode(state) || {all: []}; }
  };
};
