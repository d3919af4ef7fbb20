// A task's name (notifications.tasks.sweep) on the operations page and in change lists may break after a dot, an
// underscore or a slash, never inside a word. A <wbr> after each adds no character, so the text reads and copies the same;
// the page's HTML keeps the plain name. Loaded on every admin page by templates/admin/base_site.html.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("#content-main td.ops-long:not(.ops-err), #result_list td.field-name").forEach(function (cell) {
    var walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), nodes = [];
    for (var node = walk.nextNode(); node; node = walk.nextNode()) nodes.push(node);
    nodes.forEach(function (node) {
      var parts = node.data.split(/(?<=[._\/])(?=[^\s])/);
      if (parts.length < 2) return;
      var fragment = document.createDocumentFragment();
      parts.forEach(function (part, i) {
        if (i) fragment.appendChild(document.createElement("wbr"));
        fragment.appendChild(document.createTextNode(part));
      });
      node.replaceWith(fragment);
    });
  });
});
