/**
 * The script that prepares a policy's isolate before the policy's own code runs (issue #6).
 * It runs inside the isolate, so it is JavaScript text, not TypeScript; policy-child.ts runs it
 * first in every fresh context.
 *
 * What it does, and why:
 * - Determinism: `Math.random`, `Date.now`, `Date()` and `new Date()` without an argument throw
 *   (a TypeError saying why); `Intl` is removed (formatting with no date reads the clock). Time
 *   zone and locale are fixed by the evaluator process's environment (TZ=UTC, LC_ALL=C), so
 *   `new Date(0).getHours()` is 0 on every machine. `WeakRef` and `FinalizationRegistry` (they
 *   expose garbage-collection timing) are removed too.
 * - Less surface: `WebAssembly`, `SharedArrayBuffer` and `Atomics` (`Atomics.wait` blocks a
 *   thread) are removed. Nothing of the host is there to begin with: isolated-vm contexts have
 *   no `require`, `process`, timers or Node globals, and `import()` fails with "Not supported".
 * - Every value the policy throws or returns is turned into text here, inside the isolate and
 *   inside the time limit. isolated-vm itself would read a thrown object's `message` and `stack`
 *   outside the time limit, where a getter that loops forever hangs the evaluator (found while
 *   writing the hostile tests). The policy's source is evaluated by `eval` inside a try/catch for
 *   the same reason (a top-level `throw` would otherwise reach isolated-vm).
 * - Results are checked to be plain JSON data, with the path of the first value that is not
 *   (a function, a promise, a cycle, a Map, NaN, undefined in an array), then serialised with
 *   the `JSON.stringify` captured here before the policy could replace it.
 *
 * It defines one non-writable global, `__cratebox`, with `load(source, file)` and
 * `call(input)`, each returning "<status>\n<text>": status `ok`, `threw`, `no-policy` or
 * `not-data`. A policy can call these itself; it gains nothing, since all it could forge is its
 * own output, which the host validates like any other.
 */
export const POLICY_REALM_SOURCE = String.raw`"use strict";
(() => {
  const G = globalThis;
  const evaluate = G.eval;
  const stringify = JSON.stringify;
  const { getPrototypeOf, keys, create, freeze, defineProperty } = Object;
  const isArray = Array.isArray;
  const construct = Reflect.construct;
  const ObjectPrototype = Object.prototype;
  const ErrorType = Error;
  const PromiseType = Promise;
  const toText = String;
  const isFiniteNumber = Number.isFinite;
  const MAX_DEPTH = 64;
  const MAX_TEXT = 500;

  // ---- determinism ----
  const unavailable = (what, why) => function () {
    throw new TypeError(what + " is not available in a policy: " + why);
  };
  const NO_CLOCK = "decisions may depend on the input only, not on the clock";
  Math.random = unavailable("Math.random", "decisions may depend on the input only, not on chance");
  const RealDate = Date;
  function PolicyDate(...args) {
    if (new.target === undefined) throw new TypeError("Date() reads the clock, which a policy may not: " + NO_CLOCK);
    if (args.length === 0) throw new TypeError("new Date() without an argument reads the clock, which a policy may not: " + NO_CLOCK);
    return construct(RealDate, args, new.target);
  }
  defineProperty(PolicyDate, "name", { value: "Date" });
  PolicyDate.prototype = RealDate.prototype;
  PolicyDate.UTC = RealDate.UTC;
  PolicyDate.parse = RealDate.parse;
  PolicyDate.now = unavailable("Date.now", NO_CLOCK);
  defineProperty(RealDate.prototype, "constructor", { value: PolicyDate, writable: true, configurable: true, enumerable: false });
  G.Date = PolicyDate;
  for (const name of ["Intl", "Temporal", "WeakRef", "FinalizationRegistry", "WebAssembly", "SharedArrayBuffer", "Atomics"]) {
    delete G[name];
  }

  // ---- turning values into text, inside the time limit ----
  class NotData extends ErrorType {}
  const clip = (s) => (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "..." : s);
  const describe = (e) => {
    try {
      if (e instanceof ErrorType) {
        const head = clip(toText(e.name) + ": " + toText(e.message));
        // The innermost frame in the policy's own file, else the innermost frame at all.
        const frames = toText(e.stack).split("\n").map((l) => l.trim()).filter((l) => l.startsWith("at "));
        const frame = frames.find((l) => policyFile !== undefined && l.includes(policyFile)) ?? frames[0];
        return frame === undefined ? head : head + " (" + clip(frame) + ")";
      }
      if (typeof e === "string") return clip(stringify(e));
      if (e === null || typeof e !== "object") return "a thrown " + typeof e + " " + clip(toText(e));
      return "a thrown object that is not an Error";
    } catch {
      return "a thrown value that could not be described";
    }
  };
  const where = (path) => (path.length === 0 ? "the returned value" : path.map((k, i) => (typeof k === "number" ? "[" + k + "]" : (i === 0 ? "" : ".") + k)).join(""));
  const kindOf = (value) => {
    try {
      const name = value.constructor && value.constructor.name;
      return typeof name === "string" && name !== "" ? "a " + name : "an object with a prototype of its own";
    } catch {
      return "an object with a prototype of its own";
    }
  };
  const toPlain = (value, path, ancestors) => {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (isFiniteNumber(value)) return value;
        throw new NotData(toText(value) + " at " + where(path) + " (JSON has finite numbers only)");
      case "undefined":
        throw new NotData("undefined at " + where(path));
      case "function":
        throw new NotData("a function at " + where(path));
      case "symbol":
      case "bigint":
        throw new NotData("a " + typeof value + " at " + where(path));
    }
    if (value === null) return null;
    if (value instanceof PromiseType || typeof value.then === "function") {
      throw new NotData("a promise at " + where(path) + ": policy(input) must return its decisions, not a promise (it may not be async)");
    }
    if (ancestors.includes(value)) throw new NotData("a cyclic reference at " + where(path));
    if (ancestors.length >= MAX_DEPTH) throw new NotData("data nested deeper than " + MAX_DEPTH + " levels at " + where(path));
    ancestors.push(value);
    try {
      if (isArray(value)) {
        const out = [];
        const length = value.length;
        for (let i = 0; i < length; i++) out[i] = toPlain(value[i], [...path, i], ancestors);
        return out;
      }
      const proto = getPrototypeOf(value);
      if (proto !== ObjectPrototype && proto !== null) {
        throw new NotData(kindOf(value) + " at " + where(path) + ": only plain objects, arrays, strings, numbers, booleans and null are data");
      }
      const out = create(null);
      for (const key of keys(value)) {
        const item = value[key];
        if (item !== undefined) out[key] = toPlain(item, [...path, key], ancestors);
      }
      return out;
    } finally {
      ancestors.pop();
    }
  };

  // ---- the two entry points the evaluator calls ----
  let policyFn;
  let policyFile;
  const load = (source, file) => {
    policyFile = file;
    let found;
    try {
      // Indirect eval: global code. The last line's value says what 'policy' is, whether it was
      // declared with function, var, let or const, in strict code or not.
      found = evaluate(source + "\n;(typeof policy === 'function' ? policy : typeof policy);\n//# sourceURL=" + file);
    } catch (e) {
      return "threw\n" + describe(e);
    }
    if (typeof found !== "function") return "no-policy\n" + found;
    policyFn = found;
    return "ok\n";
  };
  const call = (input) => {
    if (policyFn === undefined) return "no-policy\nundefined";
    let result;
    try {
      result = policyFn(input);
    } catch (e) {
      return "threw\n" + describe(e);
    }
    try {
      return "ok\n" + stringify(toPlain(result, [], []));
    } catch (e) {
      return e instanceof NotData ? "not-data\n" + e.message : "threw\n" + describe(e);
    }
  };
  defineProperty(G, "__cratebox", { value: freeze({ load, call }), writable: false, configurable: false, enumerable: false });
})();
`;
