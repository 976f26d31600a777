/**
 * The NATS subjects DSPex uses. Each kind of traffic has its own prefix (`dspex.actor`, `dspex.direct`,
 * `dspex.probe`, `dspex.exit`, `dspex.node`), so an actor named "x.exit" can never collide with the exit
 * subject of an actor named "x", nor a direct subject with a queue subject.
 */

/** Cluster names become subject tokens: no whitespace, no wildcards, no empty tokens. */
export const validName = (name: string): boolean =>
  name !== "" && !/[\s*>]/.test(name) && !name.split(".").some((token) => token === "")

/**
 * A node id is exactly one subject token (a valid name without "."): the membership wildcards
 * (`dspex.node.*.hb`) match one token, and a direct subject `dspex.direct.<id>.<name>` must split into
 * its node and its name in one way only.
 */
export const validNodeId = (id: string): boolean => validName(id) && !id.includes(".")

export const assertValidName = (kind: string, name: string): void => {
  if (!validName(name)) {
    throw new Error(
      `invalid ${kind} ${
        JSON.stringify(name)
      }: use letters, digits, "-", "_" and non-empty "."-separated parts (no spaces, "*" or ">")`
    )
  }
}

export const assertValidNodeId = (id: string): void => {
  if (!validNodeId(id)) {
    throw new Error(
      `invalid node id ${
        JSON.stringify(id)
      }: use one subject token (letters, digits, "-", "_"; no ".", spaces, "*" or ">")`
    )
  }
}

/** Requests (tell and ask) for a served actor; also its queue group, so several nodes share the load. */
export const actorSubject = (name: string): string => `dspex.actor.${name}`
/** Requests for the actor served under `name` on one node (no queue group): asks that know their node. */
export const directSubject = (nodeId: string, name: string): string => `dspex.direct.${nodeId}.${name}`
/** Every node serving `name` answers a request here with its node id (who serves it, right now). */
export const probeSubject = (name: string): string => `dspex.probe.${name}`
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
