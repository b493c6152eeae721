import type { EndpointRule } from './endpoints';
import { ErrorCode, refuse } from './errors';
import type { ParamSpec } from './param-specs';

/** A body that passed its endpoint's rules: only known fields, each of the right type. */
export type Params = Readonly<Record<string, unknown>>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Why the value breaks the spec, or `undefined` when it fits. */
function problemWith(spec: ParamSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return `must be a string, not ${describe(value)}`;
      if (spec.minLength !== undefined && value.length < spec.minLength) return `must be at least ${spec.minLength} characters long`;
      if (spec.maxLength !== undefined && value.length > spec.maxLength) return `must be at most ${spec.maxLength} characters long`;
      return undefined;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return `must be an integer, not ${describe(value)}`;
      if (spec.enum && !spec.enum.includes(value)) return `must be one of ${spec.enum.join(', ')}`;
      if (spec.minimum !== undefined && value < spec.minimum) return `must be at least ${spec.minimum}`;
      if (spec.maximum !== undefined && value > spec.maximum) return `must be at most ${spec.maximum}`;
      return undefined;
    }
    case 'array': {
      if (!Array.isArray(value)) return `must be an array, not ${describe(value)}`;
      if (value.length < spec.minItems || value.length > spec.maxItems) {
        return `must hold ${spec.minItems} to ${spec.maxItems} items`;
      }
      for (let i = 0; i < value.length; i += 1) {
        const inner = problemWith(spec.items, value[i]);
        if (inner) return `item ${i} ${inner}`;
      }
      return undefined;
    }
  }
}

/** Refuses (errorCode 2) unknown fields, missing required ones and wrong types. */
export function validateParams(rule: EndpointRule, body: Readonly<Record<string, unknown>>): Params {
  for (const key of Object.keys(body)) {
    if (!Object.prototype.hasOwnProperty.call(rule.params, key)) {
      refuse(ErrorCode.InvalidParameter, `invalid parameter: unknown field ${JSON.stringify(key)}`);
    }
  }
  for (const [name, param] of Object.entries(rule.params)) {
    const present = Object.prototype.hasOwnProperty.call(body, name);
    if (!present) {
      if (param.required) refuse(ErrorCode.InvalidParameter, `missing parameter: ${name}`);
      continue;
    }
    const problem = problemWith(param.spec, body[name]);
    if (problem) refuse(ErrorCode.InvalidParameter, `invalid parameter: ${name} ${problem}`);
  }
  return body;
}

function internal(name: string, expected: string): never {
  // Reached only if a handler reads a field its endpoint rule does not declare as such.
  throw new Error(`parameter ${name} is not ${expected}`);
}

export function stringParam(params: Params, name: string): string {
  const value = params[name];
  return typeof value === 'string' ? value : internal(name, 'a string');
}

export function optionalString(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : internal(name, 'a string');
}

export function integerParam(params: Params, name: string): number {
  const value = params[name];
  return typeof value === 'number' ? value : internal(name, 'an integer');
}

export function optionalInteger(params: Params, name: string): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : internal(name, 'an integer');
}

export function optionalStringList(params: Params, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) && value.every((v): v is string => typeof v === 'string') ? value : internal(name, 'a list of strings');
}

export function stringList(params: Params, name: string): string[] {
  return optionalStringList(params, name) ?? internal(name, 'a list of strings');
}
