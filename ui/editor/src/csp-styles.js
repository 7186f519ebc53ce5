// CodeMirror's styles under the pages' Content-Security-Policy (style-src 'self', no 'unsafe-inline').
//
// CodeMirror themes are style-mod modules. For a whole document style-mod writes them into a
// <style> element, which that policy blocks; for a shadow root it uses a constructed stylesheet
// (document.adoptedStyleSheets), which CSP does not govern: the rules are built through the CSSOM,
// not parsed from markup. This module makes style-mod take the constructed-stylesheet path for the
// document too, by handing it a stand-in root without a <head> that forwards adoptedStyleSheets to
// the document. Browsers without constructed stylesheets keep style-mod's own behaviour.
import { StyleModule } from "style-mod";

const originalMount = StyleModule.mount;
let documentRoot = null;

function adoptingRoot(doc) {
  if (!documentRoot) {
    documentRoot = {
      ownerDocument: doc,
      get adoptedStyleSheets() { return doc.adoptedStyleSheets; },
      set adoptedStyleSheets(sheets) { doc.adoptedStyleSheets = sheets; },
    };
  }
  return documentRoot;
}

export function canAdoptStyles(doc) {
  return !!(doc && Array.isArray(doc.adoptedStyleSheets) && doc.defaultView && doc.defaultView.CSSStyleSheet
    && "replaceSync" in doc.defaultView.CSSStyleSheet.prototype);
}

StyleModule.mount = function mount(root, modules, options) {
  if (root && root.nodeType === 9 && canAdoptStyles(root)) {
    return originalMount.call(this, adoptingRoot(root), modules, options);
  }
  return originalMount.call(this, root, modules, options);
};
