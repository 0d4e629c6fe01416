"""olactors: an integration daemon built as an actor system on trio."""
