/**
 * The NATS subjects DSPex uses. Requests and exit announcements live under different prefixes so an
 * actor named "x.exit" can never collide with the exit subject of an actor named "x".
 */

/** Cluster names and node ids become subject tokens: no whitespace, no wildcards, no empty tokens. */
export const validName = (name: string): boolean =>
  name !== "" && !/[\s*>]/.test(name) && !name.split(".").some((token) => token === "")

export const assertValidName = (kind: string, name: string): void => {
  if (!validName(name)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(name)}: use letters, digits, "-", "_" and non-empty "."-separated parts (no spaces, "*" or ">")`)
  }
}

/** Requests (tell and ask) for a served actor; also its queue group, so several nodes share the load. */
export const actorSubject = (name: string): string => `dspex.actor.${name}`
/** Exit announcements of a served actor (one per incarnation, and when its serve scope closes). */
export const exitSubject = (name: string): string => `dspex.exit.${name}`
export const heartbeatSubject = (nodeId: string): string => `dspex.node.${nodeId}.hb`
export const leaveSubject = (nodeId: string): string => `dspex.node.${nodeId}.leave`
export const heartbeatWildcard = "dspex.node.*.hb"
export const leaveWildcard = "dspex.node.*.leave"
/** A node that joins (or reconnects) publishes here; every node answers with a heartbeat at once. */
export const helloSubject = "dspex.node.hello"
/** The NATS services API name every DSPex node registers under (`$SRV.INFO.dspex-node`). */
export const serviceName = "dspex-node"
