// Which crate, or which module of imsip, a function of the wasm belongs to, by its
// name in the module's name section (as twiggy shows it). Shared by twiggy-crates.mjs
// and module-gzip.mjs (benches/size.sh).

/** The group of function `name`: `imsip::<module>`, a crate, or one of the catch-alls. */
export function groupOf(name) {
  // `<T as core::fmt::Debug>::fmt`, `<char as ...>`: a primitive or generic
  // receiver is charged to the trait's crate.
  const as = /^<[&*]*(?:mut |dyn )?([A-Za-z_][A-Za-z0-9_]*)(?:<[^ ]*)? as ([^>]+)>/.exec(name);
  if (as && !/::/.test(as[1]) && /^(T|[A-Z]|[iu](8|16|32|64|128|size)|f32|f64|bool|char|str)$/.test(as[1])) {
    name = as[2];
  }
  name = name.replace(/^[<&*]+/, '').replace(/^(dyn |mut )/, '');
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?(?:::([A-Za-z_][A-Za-z0-9_]*))?/.exec(name);
  if (!m || !name.includes('::')) {
    return / shim|^__wbindgen|^__externref|^imclientcore_|^[a-z][A-Za-z]*$/.test(name)
      ? 'wasm-bindgen exports and shims' : 'other (unnamed, std impls)';
  }
  return m[1] === 'imsip' ? `imsip::${m[3]}` : m[1];
}
