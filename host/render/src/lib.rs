//! `gyre-render`: the render step of the pipeline (source → artifact → **render →
//! transform** → apply). It resolves plugin references (built-ins, Plugin objects pinned by
//! digest), runs the renderer over an extracted artifact tree, applies Flux's post-build
//! variable substitution and runs the transform plugins — every plugin call in its own
//! sandbox.

pub mod substitute;
