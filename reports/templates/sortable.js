// Click a table header to sort by that column (numbers numerically); no dependencies, no network.
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.dir !== "asc";
    th.dataset.dir = asc ? "asc" : "desc";
    var key = function (row) {
      var cell = row.cells[th.cellIndex]; var text = cell ? (cell.dataset.v || cell.textContent.trim()) : "";
      var num = parseFloat(text); return isNaN(num) ? text.toLowerCase() : num;
    };
    rows.sort(function (a, b) { var x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
