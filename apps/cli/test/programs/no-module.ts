/** A program file for the tests that exports no Module: `dspex optimize` must say so, listing its exports. */
export const answer = "42"

/** A metric is not a program. */
export const metric = (): boolean => true
