// A form generated from a collection's JSON schema. The browser does not
// validate it (the form is `novalidate`): the server checks the record against
// the schema and its message is shown, so both always agree.

import { h } from "./dom.js";

const JSON_KINDS = new Set(["object", "array", "null"]);

function kindOf(schema) {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (Array.isArray(schema.enum)) return "enum";
  if (type === "string") return schema.maxLength > 200 || schema.format === "textarea" ? "text" : "string";
  if (type === "integer" || type === "number" || type === "boolean") return type;
  if (!type || JSON_KINDS.has(type)) return "json";
  return "json";
}

function inputFor(id, kind, schema, value) {
  switch (kind) {
    case "enum":
      return h("select", { id }, h("option", { value: "" }, "—"),
        schema.enum.map((option) => h("option", { value: JSON.stringify(option), selected: JSON.stringify(option) === JSON.stringify(value) }, String(option))));
    case "boolean":
      return h("input", { id, type: "checkbox", checked: value === true });
    case "integer":
    case "number":
      return h("input", { id, type: "text", inputmode: "decimal", value: value === undefined ? "" : String(value) });
    case "text": {
      const area = h("textarea", { id });
      area.value = value === undefined ? "" : String(value);
      return area;
    }
    case "string":
      return h("input", { id, type: "text", value: value === undefined ? "" : String(value) });
    default: {
      const area = h("textarea", { id, spellcheck: "false", "aria-describedby": `${id}-hint` });
      area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
      return area;
    }
  }
}

function readInput(kind, input) {
  switch (kind) {
    case "enum":
      return input.value === "" ? undefined : JSON.parse(input.value);
    case "boolean":
      return input.checked;
    case "integer":
    case "number": {
      const text = input.value.trim();
      if (text === "") return undefined;
      const number = Number(text);
      // Not a number: sent as typed, so that the server's schema check explains.
      return Number.isNaN(number) ? text : number;
    }
    case "string":
    case "text":
      return input.value === "" ? undefined : input.value;
    default: {
      const text = input.value.trim();
      if (text === "") return undefined;
      return JSON.parse(text);
    }
  }
}

/**
 * Build the form fields of `schema` filled with `record` (its data). Answers
 * {element, collect()}: collect() gives the record's new data, keeping the
 * fields the schema does not describe.
 */
export function schemaForm(schema, record = {}) {
  const properties = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const fields = Object.entries(properties).map(([name, property]) => {
    const kind = kindOf(property || {});
    const id = `field-${name.replace(/[^\w-]/g, "_")}`;
    const input = inputFor(id, kind, property || {}, record[name]);
    input.name = name;
    const title = (property && property.title) || name;
    const label = kind === "boolean"
      ? h("label", { class: "inline", for: id }, input, title)
      : h("label", { for: id }, `${title}${required.has(name) ? " *" : ""}`);
    const hints = [property && property.description, kind === "json" ? "JSON value" : null].filter(Boolean).join(" — ");
    return {
      name,
      kind,
      input,
      element: h("div", { class: "form-field" }, label, kind === "boolean" ? null : input, hints ? h("p", { class: "hint", id: `${id}-hint` }, hints) : null),
    };
  });
  return {
    element: h("div", {}, fields.map((f) => f.element)),
    collect() {
      const data = { ...record };
      delete data.id;
      delete data.last_modified;
      for (const f of fields) {
        let value;
        try {
          value = readInput(f.kind, f.input);
        } catch (error) {
          throw new Error(`${f.name}: invalid JSON (${error.message})`);
        }
        if (value === undefined) delete data[f.name];
        else data[f.name] = value;
      }
      return data;
    },
  };
}
