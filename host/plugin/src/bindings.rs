//! The one place host bindings are generated: a host-side world that
//! imports `log` and exports all four plugin interfaces, so a single set of
//! generated types serves every plugin kind. A plugin implements only one of
//! them; [`crate::inspect`] finds which before anything is instantiated.

wasmtime::component::bindgen!({
    path: "../../wit",
    inline: "
        package gyre:host;

        world plugins {
            import gyre:plugin/log@0.1.0;
            export gyre:plugin/render@0.1.0;
            export gyre:plugin/transformation@0.1.0;
            export gyre:plugin/tag-policy@0.1.0;
            export gyre:plugin/notify@0.1.0;
        }
    ",
});
