/**
 * Counts fibers through Effect's fiber-runtime metrics hook, so leak tests can assert that nothing a
 * supervisor or executor started is still running after its scope closes.
 */
import { Effect, Metric } from "effect"

export const fiberCounter = () => {
  let active = 0
  let started = 0
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      started++
      active++
    },
    recordFiberEnd: () => {
      active--
    }
  }
  return {
    service,
    active: () => active,
    started: () => started,
    /** Lets interrupted fibers unwind before counting. */
    settle: Effect.forEach(Array.from({ length: 5 }), () => (active > 0 ? Effect.yieldNow : Effect.void), {
      discard: true
    })
  }
}
