// A program file for the tests that fails while it is imported.
throw new Error("the program file failed on import")
