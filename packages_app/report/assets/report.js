/* Package summary report: tabs, and tables that sort, filter, page and export CSV.
 *
 * Plain JavaScript, no library, no network. Table rows come from the JSON data island
 * (#report-data) and are written with textContent only, so catalog values can never become
 * markup. Only one page of rows is in the DOM at a time, which keeps 40,000-row tables smooth.
 */
(function () {
  "use strict";

  var dataElement = document.getElementById("report-data");
  if (!dataElement) return;
  var REPORT = JSON.parse(dataElement.textContent);
  document.documentElement.classList.add("js");

  var UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  var ARCHIVED_STATES = { archived: true, restoring: true };
  var PAGE_SIZES = [25, 100, 250, 1000];
  var collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  var numberFormat = new Intl.NumberFormat("en-US");

  function humanSize(size) {
    if (size === null || size === undefined || size === "") return "";
    if (size < 1024) return size + " B";
    var value = size;
    var unit = "B";
    for (var i = 0; i < UNITS.length; i++) {
      value /= 1024;
      unit = UNITS[i];
      if (value < 1024) break;
    }
    return (value < 100 ? value.toFixed(1) : value.toFixed(0)) + " " + unit;
  }

  function formatInt(value) {
    return value === null || value === undefined || value === "" ? "" : numberFormat.format(value);
  }

  /* "1.5G", "200 MiB", "10k" -> bytes (binary units); NaN when not a size. */
  function parseSize(text) {
    var match = /^\s*([0-9]*\.?[0-9]+)\s*([kmgtpe]?)(i?b)?\s*$/i.exec(text);
    if (!match) return NaN;
    var power = " kmgtpe".indexOf((match[2] || " ").toLowerCase());
    return parseFloat(match[1]) * Math.pow(1024, Math.max(power, 0));
  }

  function isNumeric(kind) {
    return kind === "int" || kind === "bytes";
  }

  function displayText(kind, value) {
    if (value === null || value === undefined) return "";
    if (kind === "bytes") return humanSize(value);
    if (kind === "int") return formatInt(value);
    return String(value);
  }

  /* A column filter: "text" (contains), "!text" (does not contain), or for numbers
   * ">10", "<=2", "=3", "5" (equals); sizes accept units (">1 GiB"). */
  function makeColumnFilter(kind, raw) {
    var text = raw.trim();
    if (!text) return null;
    if (isNumeric(kind)) {
      var match = /^(>=|<=|>|<|=)?\s*(.+)$/.exec(text);
      var operator = match[1] || "=";
      var target = kind === "bytes" ? parseSize(match[2]) : parseFloat(match[2].replace(/,/g, ""));
      if (!isNaN(target)) {
        return function (value) {
          if (value === null || value === undefined || value === "") return false;
          switch (operator) {
            case ">": return value > target;
            case ">=": return value >= target;
            case "<": return value < target;
            case "<=": return value <= target;
            default: return kind === "bytes" ? Math.abs(value - target) < 0.5 || displayText(kind, value) === text : value === target;
          }
        };
      }
    }
    var negate = text.charAt(0) === "!" && text.length > 1;
    var needle = (negate ? text.slice(1) : text).toLowerCase();
    return function (value) {
      var found = displayText(kind, value).toLowerCase().indexOf(needle) !== -1;
      return negate ? !found : found;
    };
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    if (attributes) {
      for (var name in attributes) {
        if (name === "className") node.className = attributes[name];
        else node.setAttribute(name, attributes[name]);
      }
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function csvCell(kind, value) {
    if (value === null || value === undefined) return "";
    var text = kind === "int" ? String(value) : displayText(kind, value);
    // Spreadsheets run cells starting with these characters as formulas; catalog text must not.
    if (!isNumeric(kind) && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
    if (/[",\r\n]/.test(text) || /^\s|\s$/.test(text)) text = '"' + text.replace(/"/g, '""') + '"';
    return text;
  }

  function safeFileName(text) {
    return text.replace(/[^A-Za-z0-9._+-]+/g, "_");
  }

  /* ---------------------------------------------------------------------------------------- */

  function TableView(host, spec) {
    this.host = host;
    this.spec = spec;
    this.columns = spec.columns;
    this.rows = spec.rows;
    this.archiveColumn = spec.archiveColumn;
    this.sortColumn = -1;
    this.sortDescending = false;
    this.query = "";
    this.columnFilters = {};
    this.archivedOnly = false;
    this.hidden = {};
    this.page = 0;
    this.pageSize = 100;
    this.searchText = null;
    this.view = null;
    this.archivedCount = 0;
    if (this.archiveColumn !== null) {
      for (var i = 0; i < this.rows.length; i++) {
        if (ARCHIVED_STATES[this.rows[i][this.archiveColumn]]) this.archivedCount++;
      }
    }
    this.build();
    this.refresh();
  }

  TableView.prototype.build = function () {
    var self = this;
    var tools = element("div", { className: "tools" });
    this.search = element("input", {
      type: "search",
      placeholder: "Filter all columns… (space-separated words must all match)",
      "aria-label": "Filter " + this.spec.title,
    });
    this.search.addEventListener("input", debounce(function () {
      self.query = self.search.value;
      self.page = 0;
      self.refresh();
    }, 120));
    tools.appendChild(this.search);

    if (this.archiveColumn !== null) {
      this.archivedToggle = element("label", { className: "toggle" });
      this.archivedCheckbox = element("input", { type: "checkbox" });
      this.archivedCheckbox.addEventListener("change", function () {
        self.setArchivedOnly(self.archivedCheckbox.checked);
      });
      this.archivedToggle.appendChild(this.archivedCheckbox);
      this.archivedToggle.appendChild(
        document.createTextNode("Archived only (" + formatInt(this.archivedCount) + ")")
      );
      if (!this.archivedCount) {
        this.archivedCheckbox.disabled = true;
        this.archivedToggle.setAttribute("aria-disabled", "true");
      }
      tools.appendChild(this.archivedToggle);
    }
    tools.appendChild(this.buildColumnMenu());
    var reset = element("button", { type: "button", title: "Clear filters and sorting" }, "Reset");
    reset.addEventListener("click", function () { self.reset(); });
    tools.appendChild(reset);
    this.csvButton = element(
      "button",
      { type: "button", className: "primary", title: "The matching rows, all pages, shown columns" },
      "Download CSV"
    );
    this.csvButton.addEventListener("click", function () { self.downloadCsv(); });
    tools.appendChild(this.csvButton);
    this.status = element("span", { className: "status", "aria-live": "polite" });
    tools.appendChild(this.status);
    this.host.appendChild(tools);

    var wrap = element("div", { className: "table-wrap" });
    var table = element("table", { className: "data" });
    var head = element("thead");
    var titles = element("tr");
    var filters = element("tr", { className: "filters" });
    this.headers = [];
    this.filterInputs = [];
    this.columns.forEach(function (column, index) {
      var th = element("th", { scope: "col", "aria-sort": "none" });
      if (isNumeric(column.kind)) th.className = "num";
      var button = element("button", { type: "button", className: "sort", title: "Sort by " + column.label });
      button.appendChild(document.createTextNode(column.label));
      button.appendChild(element("span", { className: "arrow", "aria-hidden": "true" }, "↕"));
      button.addEventListener("click", function () { self.sortBy(index); });
      th.appendChild(button);
      titles.appendChild(th);
      self.headers.push(th);
      var filterCell = element("th");
      var input = element("input", {
        type: "text",
        placeholder: isNumeric(column.kind) ? (column.kind === "bytes" ? ">1 GiB" : ">0") : "filter",
        "aria-label": "Filter " + column.label,
        spellcheck: "false",
      });
      input.addEventListener("input", debounce(function () {
        var predicate = makeColumnFilter(column.kind, input.value);
        if (predicate) self.columnFilters[index] = predicate;
        else delete self.columnFilters[index];
        input.classList.toggle("active", !!predicate);
        self.page = 0;
        self.refresh();
      }, 150));
      filterCell.appendChild(input);
      filters.appendChild(filterCell);
      self.filterInputs.push(input);
    });
    head.appendChild(titles);
    head.appendChild(filters);
    table.appendChild(head);
    this.body = element("tbody");
    table.appendChild(this.body);
    wrap.appendChild(table);
    this.wrap = wrap;
    this.host.appendChild(wrap);

    var pager = element("div", { className: "pager" });
    this.pageInfo = element("span");
    pager.appendChild(this.pageInfo);
    pager.appendChild(element("span", { className: "spacer" }));
    var sizeLabel = element("label", null, "Rows per page ");
    this.sizeSelect = element("select", { "aria-label": "Rows per page" });
    PAGE_SIZES.forEach(function (size) {
      var option = element("option", { value: String(size) }, String(size));
      if (size === self.pageSize) option.selected = true;
      self.sizeSelect.appendChild(option);
    });
    this.sizeSelect.addEventListener("change", function () {
      self.pageSize = parseInt(self.sizeSelect.value, 10);
      self.page = 0;
      self.render();
    });
    sizeLabel.appendChild(this.sizeSelect);
    pager.appendChild(sizeLabel);
    var buttons = [
      ["«", "First page", function () { return 0; }],
      ["‹ Previous", "Previous page", function () { return self.page - 1; }],
      ["Next ›", "Next page", function () { return self.page + 1; }],
      ["»", "Last page", function () { return self.pageCount() - 1; }],
    ];
    this.pageButtons = buttons.map(function (item) {
      var button = element("button", { type: "button", title: item[1] }, item[0]);
      button.addEventListener("click", function () {
        self.page = Math.max(0, Math.min(item[2](), self.pageCount() - 1));
        self.render();
        self.wrap.scrollTop = 0;
      });
      pager.appendChild(button);
      return button;
    });
    this.host.appendChild(pager);
  };

  TableView.prototype.buildColumnMenu = function () {
    var self = this;
    var menu = element("details", { className: "columns-menu" });
    this.columnSummary = element("summary", null, "Columns");
    menu.appendChild(this.columnSummary);
    var list = element("div", { className: "menu" });
    this.columns.forEach(function (column, index) {
      var label = element("label");
      var checkbox = element("input", { type: "checkbox" });
      checkbox.checked = true;
      checkbox.addEventListener("change", function () { self.setColumnShown(index, checkbox.checked); });
      label.appendChild(checkbox);
      label.appendChild(document.createTextNode(" " + column.label));
      list.appendChild(label);
    });
    menu.appendChild(list);
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
    return menu;
  };

  TableView.prototype.setColumnShown = function (index, shown) {
    if (shown) delete this.hidden[index];
    else {
      this.hidden[index] = true;
      // A hidden column must not keep filtering rows nobody can see why.
      if (this.columnFilters[index]) {
        delete this.columnFilters[index];
        this.filterInputs[index].value = "";
        this.filterInputs[index].classList.remove("active");
        this.computeView();
      }
      if (this.sortColumn === index) {
        this.sortColumn = -1;
        this.computeView();
      }
    }
    this.headers[index].hidden = !shown;
    this.filterInputs[index].parentNode.hidden = !shown;
    this.render();
  };

  TableView.prototype.shownColumns = function () {
    var shown = [];
    for (var c = 0; c < this.columns.length; c++) if (!this.hidden[c]) shown.push(c);
    return shown;
  };

  TableView.prototype.rowSearchText = function (index) {
    if (!this.searchText) this.searchText = new Array(this.rows.length);
    var text = this.searchText[index];
    if (text === undefined) {
      var row = this.rows[index];
      var parts = [];
      for (var c = 0; c < this.columns.length; c++) parts.push(displayText(this.columns[c].kind, row[c]));
      text = this.searchText[index] = parts.join("\u0001").toLowerCase();
    }
    return text;
  };

  TableView.prototype.computeView = function () {
    var terms = this.query.toLowerCase().split(/\s+/).filter(Boolean);
    var filterColumns = Object.keys(this.columnFilters).map(Number);
    var archiveColumn = this.archiveColumn;
    var result = [];
    for (var i = 0; i < this.rows.length; i++) {
      var row = this.rows[i];
      if (this.archivedOnly && !ARCHIVED_STATES[row[archiveColumn]]) continue;
      var keep = true;
      for (var f = 0; f < filterColumns.length && keep; f++) {
        keep = this.columnFilters[filterColumns[f]](row[filterColumns[f]]);
      }
      if (keep && terms.length) {
        var text = this.rowSearchText(i);
        for (var t = 0; t < terms.length && keep; t++) keep = text.indexOf(terms[t]) !== -1;
      }
      if (keep) result.push(i);
    }
    if (this.sortColumn >= 0) {
      var column = this.sortColumn;
      var numeric = isNumeric(this.columns[column].kind);
      var direction = this.sortDescending ? -1 : 1;
      var rows = this.rows;
      result.sort(function (a, b) {
        var x = rows[a][column];
        var y = rows[b][column];
        var xEmpty = x === null || x === undefined || x === "";
        var yEmpty = y === null || y === undefined || y === "";
        var order;
        if (xEmpty || yEmpty) order = xEmpty === yEmpty ? 0 : xEmpty ? 1 : -1; // empty cells last
        else order = direction * (numeric ? x - y : collator.compare(String(x), String(y)));
        return order || a - b;
      });
    }
    this.view = result;
  };

  TableView.prototype.pageCount = function () {
    return Math.max(1, Math.ceil(this.view.length / this.pageSize));
  };

  TableView.prototype.refresh = function () {
    this.computeView();
    this.render();
  };

  TableView.prototype.render = function () {
    var self = this;
    var total = this.rows.length;
    var shown = this.view.length;
    if (this.page >= this.pageCount()) this.page = this.pageCount() - 1;
    var start = this.page * this.pageSize;
    var end = Math.min(start + this.pageSize, shown);
    var fragment = document.createDocumentFragment();
    var columns = this.shownColumns();
    for (var i = start; i < end; i++) fragment.appendChild(this.renderRow(this.rows[this.view[i]], columns));
    if (!shown) {
      var tr = element("tr");
      var message = total
        ? "No " + this.spec.noun + " matches these filters."
        : "This package has no " + this.spec.title.toLowerCase() + ".";
      tr.appendChild(element("td", { className: "empty", colspan: String(columns.length) }, message));
      fragment.appendChild(tr);
    }
    this.body.textContent = "";
    this.body.appendChild(fragment);

    var noun = total === 1 ? this.spec.noun : plural(this.spec.noun);
    this.status.textContent =
      shown === total
        ? formatInt(total) + " " + noun
        : formatInt(shown) + " of " + formatInt(total) + " " + noun + " match";
    this.pageInfo.textContent = shown
      ? "Rows " + formatInt(start + 1) + "–" + formatInt(end) + " of " + formatInt(shown) +
        " · page " + formatInt(this.page + 1) + " of " + formatInt(this.pageCount())
      : "No rows";
    this.pageButtons[0].disabled = this.pageButtons[1].disabled = this.page === 0;
    this.pageButtons[2].disabled = this.pageButtons[3].disabled = this.page >= this.pageCount() - 1;
    this.csvButton.textContent = "Download CSV (" + formatInt(shown) + ")";
    this.columnSummary.textContent =
      columns.length === this.columns.length
        ? "Columns"
        : "Columns (" + columns.length + " of " + this.columns.length + ")";
    this.csvButton.disabled = !shown;
    this.headers.forEach(function (th, index) {
      var sorted = index === self.sortColumn;
      th.setAttribute("aria-sort", sorted ? (self.sortDescending ? "descending" : "ascending") : "none");
      th.querySelector(".arrow").textContent = sorted ? (self.sortDescending ? "▼" : "▲") : "↕";
    });
    if (this.archivedToggle) {
      this.archivedCheckbox.checked = this.archivedOnly;
      this.archivedToggle.classList.toggle("on", this.archivedOnly);
    }
  };

  TableView.prototype.renderRow = function (row, columns) {
    var tr = document.createElement("tr");
    if (this.archiveColumn !== null && ARCHIVED_STATES[row[this.archiveColumn]]) tr.className = "is-archived";
    for (var n = 0; n < columns.length; n++) {
      var c = columns[n];
      var kind = this.columns[c].kind;
      var value = row[c];
      var td = document.createElement("td");
      if (kind === "bytes") {
        td.className = "num";
        td.textContent = humanSize(value);
        if (value !== null && value !== undefined && value !== "") td.title = formatInt(value) + " bytes";
      } else if (kind === "int") {
        td.className = "num";
        td.textContent = formatInt(value);
      } else if (kind === "path") {
        td.className = "path";
        td.textContent = value;
      } else if (kind === "state" || kind === "status") {
        if (value) {
          var badge = document.createElement("span");
          badge.className = "badge " + badgeClass(kind, String(value));
          badge.textContent = value;
          td.appendChild(badge);
        }
      } else {
        td.textContent = value === null || value === undefined ? "" : value;
        if (typeof value === "string" && value.length > 60) td.className = "wrap";
      }
      tr.appendChild(td);
    }
    return tr;
  };

  TableView.prototype.sortBy = function (index) {
    if (this.sortColumn !== index) {
      this.sortColumn = index;
      // Sizes and counts: largest first is what people look for.
      this.sortDescending = isNumeric(this.columns[index].kind);
    } else if (this.sortDescending === isNumeric(this.columns[index].kind)) {
      this.sortDescending = !this.sortDescending;
    } else {
      this.sortColumn = -1; // third click: back to the report's order
    }
    this.page = 0;
    this.refresh();
  };

  TableView.prototype.setArchivedOnly = function (on) {
    if (this.archiveColumn === null) return;
    this.archivedOnly = !!on && this.archivedCount > 0;
    this.page = 0;
    this.refresh();
  };

  TableView.prototype.reset = function () {
    this.query = "";
    this.search.value = "";
    this.columnFilters = {};
    this.filterInputs.forEach(function (input) {
      input.value = "";
      input.classList.remove("active");
    });
    this.archivedOnly = false;
    this.sortColumn = -1;
    this.page = 0;
    this.refresh();
  };

  TableView.prototype.downloadCsv = function () {
    var columns = this.columns;
    var shown = this.shownColumns();
    var lines = [shown.map(function (c) { return csvCell("text", columns[c].label); }).join(",")];
    for (var i = 0; i < this.view.length; i++) {
      var row = this.rows[this.view[i]];
      var cells = [];
      for (var n = 0; n < shown.length; n++) cells.push(csvCell(columns[shown[n]].kind, row[shown[n]]));
      lines.push(cells.join(","));
    }
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var link = element("a", {
      href: URL.createObjectURL(blob),
      download: safeFileName(REPORT.packageName + "." + this.spec.key) + ".csv",
    });
    document.body.appendChild(link);
    link.click();
    setTimeout(function () {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 1000);
  };

  function badgeClass(kind, value) {
    if (kind === "state") return "badge-" + value.replace(/[^a-z]/g, "");
    var upper = value.toUpperCase();
    if (upper === "SUCCEEDED" || upper === "SUCCESS") return "badge-ok";
    if (upper === "FAILED" || upper === "ABORTED" || upper === "FAILURE") return "badge-bad";
    return "badge-neutral";
  }

  function plural(noun) {
    if (/y$/.test(noun)) return noun.slice(0, -1) + "ies";
    return noun + "s";
  }

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, wait);
    };
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Tabs: one section at a time, addressed by the URL fragment (#fastqs), tables built lazily. */

  var specs = {};
  REPORT.tables.forEach(function (spec) {
    // Columns with few distinct values travel as indexes into a list; expand them once.
    Object.keys(spec.dictionaries).forEach(function (key) {
      var column = Number(key);
      var values = spec.dictionaries[key];
      for (var i = 0; i < spec.rows.length; i++) spec.rows[i][column] = values[spec.rows[i][column]];
    });
    specs[spec.key] = spec;
  });
  var views = {};
  var panels = Array.prototype.slice.call(document.querySelectorAll("section.panel"));
  var tabs = Array.prototype.slice.call(document.querySelectorAll(".tabs a[data-tab]"));

  function viewFor(key) {
    if (!views[key] && specs[key]) {
      var host = document.querySelector('[data-table-host="' + key + '"]');
      if (host) views[key] = new TableView(host, specs[key]);
    }
    return views[key];
  }

  function show(id) {
    var known = panels.some(function (panel) { return panel.id === id; });
    if (!known) id = "summary";
    panels.forEach(function (panel) { panel.classList.toggle("active", panel.id === id); });
    tabs.forEach(function (tab) {
      if (tab.getAttribute("data-tab") === id) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    });
    viewFor(id);
  }

  function currentTab() {
    return decodeURIComponent((location.hash || "#summary").slice(1));
  }

  window.addEventListener("hashchange", function () {
    show(currentTab());
    window.scrollTo(0, 0);
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-archived-filter]");
    if (!link) return;
    var key = link.getAttribute("data-archived-filter");
    event.preventDefault();
    var view = viewFor(key);
    if (view) view.setArchivedOnly(true);
    if (currentTab() === key) show(key);
    else location.hash = key;
  });

  document.addEventListener("keydown", function (event) {
    // "/" jumps to the visible table's filter box, as on many code hosts.
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.isContentEditable)) return;
    var view = views[currentTab()];
    if (view) {
      event.preventDefault();
      view.search.focus();
    }
  });

  show(currentTab());
  window.datasharingReport = { views: views, show: show, humanSize: humanSize };
})();
