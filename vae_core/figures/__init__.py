"""The theory views' figures: each module has a request (a frozen dataclass of what to compute)
and a function `(model, request)` that computes its answer with a model the caller lends, plain
numbers and arrays (no Qt, no threads; the window runs them on workers through
`app.controllers.model_jobs`, a script or a test calls them directly)."""
