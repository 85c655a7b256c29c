"""Shared pieces of the three dashboards: data source, variables, links, panel shapes.

Every panel is made by one of the functions below, each of which asks for a title, a
description, its queries and its links, so that no panel can be written without them. A
dashboard is a list of sections (a row title and its panels) handed to `dashboard`, which
lays them out on the grid and numbers them in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, statetimeline, table
from grafana_foundation_sdk.builders import timeseries as timeseries_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

PanelBuilder = cogbuilder.Builder[models.Panel]
"""Any of the SDK's panel builders."""

Section = tuple[str, Sequence[PanelBuilder]]
"""A row title and the panels under it, in order."""

DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="prometheus")
"""The Prometheus data source that the provisioning file declares."""

TAG = "abstractcore-secrets"
"""The tag every dashboard carries; the dashboards link to each other through it."""

DOCS = "https://github.com/abstractcore/abstractcore-secrets/blob/main/docs"
RUNBOOKS = f"{DOCS}/runbooks.md"
OBSERVABILITY = f"{DOCS}/observability.md"

ROTATION_TARGET_SECONDS = 90 * 24 * 3600
"""Keys older than this are past their rotation target (AbstractcoreSecretsKeyPastRotation)."""

SLO_ERROR_BUDGET = 0.001
"""The resolution error budget: 99.9 % of resolutions succeed over 30 days."""


def runbook(alert: str) -> dashboard_builders.DashboardLink:
    """Link a panel to the runbook section of an alert.

    Args:
        alert: The alert's name, e.g. ``AbstractcoreSecretsSourceDown``.

    Returns:
        A link that opens the section in a new tab.
    """
    return _link(f"Runbook: {alert}", f"{RUNBOOKS}#{alert.lower()}")


def all_runbooks() -> dashboard_builders.DashboardLink:
    """Link a panel to the runbooks page as a whole."""
    return _link("Runbooks", RUNBOOKS)


def guide(anchor: str) -> dashboard_builders.DashboardLink:
    """Link a panel to a section of the observability guide.

    Args:
        anchor: The section's anchor, e.g. ``secrets-access``.

    Returns:
        A link that opens the section in a new tab.
    """
    return _link("Observability guide", f"{OBSERVABILITY}#{anchor}")


def _link(title: str, url: str) -> dashboard_builders.DashboardLink:
    return (
        dashboard_builders.DashboardLink(title)
        .type(models.DashboardLinkType.LINK)
        .url(url)
        .target_blank(True)
    )


def query(
    expr: str, legend: str = "__auto", *, ref: str = "A", instant: bool = False
) -> prometheus.Dataquery:
    """Make a Prometheus query.

    Args:
        expr: The PromQL expression, with Grafana's variables (``$service``, ...).
        legend: The legend format, e.g. ``{{secrets_source}}``.
        ref: The query's reference id within its panel.
        instant: Ask for the value at the end of the time range only, as stats want.

    Returns:
        The query builder.
    """
    target = (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref)
        .datasource(DATASOURCE)
        .editor_mode(prometheus_models.QueryEditorMode.CODE)
    )
    return target.instant() if instant else target.range()


def thresholds(*steps: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    """Make absolute thresholds from ``(value, colour)`` pairs, the first value ``None``."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=value, color=color) for value, color in steps])
    )


def timeseries(
    title: str,
    description: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    links: Sequence[dashboard_builders.DashboardLink],
    unit: str = "short",
    width: int = 12,
    stacked: bool = False,
    limits: dashboard_builders.ThresholdsConfig | None = None,
) -> timeseries_builders.Panel:
    """Make a time series panel.

    Args:
        title: The panel's title.
        description: The question the panel answers.
        targets: Its queries.
        links: Its runbook or guide links.
        unit: The unit of the values.
        width: Its width in grid columns.
        stacked: Stack the series (for parts of a whole).
        limits: Thresholds drawn as dashed lines.

    Returns:
        The panel builder.
    """
    panel = (
        timeseries_builders.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .links(list(links))
        .unit(unit)
        .span(width)
        .height(8)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if limits is not None:
        panel = panel.thresholds(limits).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    return panel


def single_stat(
    title: str,
    description: str,
    target: prometheus.Dataquery,
    *,
    links: Sequence[dashboard_builders.DashboardLink],
    unit: str = "short",
    limits: dashboard_builders.ThresholdsConfig | None = None,
    states: Sequence[tuple[str, str]] = (),
    width: int = 6,
) -> stat.Panel:
    """Make a stat panel showing the last value of one query.

    Args:
        title: The panel's title.
        description: The question the panel answers.
        target: Its query.
        links: Its runbook or guide links.
        unit: The unit of the value.
        limits: Thresholds that colour the value.
        states: ``(name, colour)`` for the values 0, 1, 2 ..., if the value names a state.
        width: Its width in grid columns.

    Returns:
        The panel builder.
    """
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([target])
        .links(list(links))
        .unit(unit)
        .span(width)
        .height(5)
        .thresholds(limits or thresholds((None, "blue")))
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )
    if states:
        panel = panel.mappings(_state_mappings(states))
    return panel


def value_table(
    title: str,
    description: str,
    target: prometheus.Dataquery,
    *,
    links: Sequence[dashboard_builders.DashboardLink],
    unit: str = "short",
    value_name: str = "Value",
    limits: dashboard_builders.ThresholdsConfig | None = None,
    width: int = 12,
) -> table.Panel:
    """Make a table of one instant query: one row per series, its labels as columns.

    Args:
        title: The panel's title.
        description: The question the panel answers.
        target: Its query; made instant here if it is not already.
        links: Its runbook or guide links.
        unit: The unit of the value column.
        value_name: The header of the value column.
        limits: Thresholds that colour the value column.
        width: Its width in grid columns.

    Returns:
        The panel builder, sorted by value, largest first.
    """
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([target.instant().format(prometheus_models.PromQueryFormat.TABLE)])
        .links(list(links))
        .unit(unit)
        .span(width)
        .height(8)
        .with_transformation(
            models.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "__name__": True},
                    "renameByName": {"Value": value_name},
                },
            )
        )
        .sort_by([common_builders.TableSortByFieldState().display_name(value_name).desc(True)])
    )
    if limits is not None:
        panel = panel.thresholds(limits).cell_options(common.TableColorTextCellOptions())
    return panel


def latency_heatmap(
    title: str,
    description: str,
    target: prometheus.Dataquery,
    *,
    links: Sequence[dashboard_builders.DashboardLink],
    width: int = 12,
) -> heatmap.Panel:
    """Make a heatmap of a histogram's buckets, as Prometheus already computed them.

    Args:
        title: The panel's title.
        description: The question the panel answers.
        target: A ``sum by (le) (rate(..._bucket[...]))`` query.
        links: Its runbook or guide links.
        width: Its width in grid columns.

    Returns:
        The panel builder.
    """
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([target.format(prometheus_models.PromQueryFormat.HEATMAP)])
        .links(list(links))
        .span(width)
        .height(8)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit("s"))
        .rows_frame(heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_models.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .fill("dark-orange")
            .exponent(0.5)
            .steps(64)
        )
        .cell_values(heatmap.CellValues().unit("ops"))
    )


def state_timeline(
    title: str,
    description: str,
    target: prometheus.Dataquery,
    *,
    links: Sequence[dashboard_builders.DashboardLink],
    states: Sequence[tuple[str, str]],
    width: int = 12,
) -> statetimeline.Panel:
    """Make a state timeline for a gauge whose values 0, 1, 2 ... name states.

    Args:
        title: The panel's title.
        description: The question the panel answers.
        target: Its query.
        links: Its runbook or guide links.
        states: ``(name, colour)`` for the values 0, 1, 2 ..., in order.
        width: Its width in grid columns.

    Returns:
        The panel builder.
    """
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([target])
        .links(list(links))
        .span(width)
        .height(8)
        .mappings(_state_mappings(states))
        .thresholds(thresholds((None, "text")))
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
    )


def _state_mappings(states: Sequence[tuple[str, str]]) -> list[models.ValueMapping]:
    options = {
        str(value): models.ValueMappingResult(text=name, color=color, index=value)
        for value, (name, color) in enumerate(states)
    }
    return [models.ValueMap(options=options)]


def variables() -> list[dashboard_builders.QueryVariable]:
    """Make the three template variables every dashboard filters by.

    ``service`` is the application's ``job`` label (its OpenTelemetry ``service.name``),
    ``provider`` the LLM provider and ``source`` the secret source. Each may hold several
    values, and "All" matches any value, including none.

    Returns:
        The variables, in the order they appear at the top of the dashboard.
    """
    resolutions = "abstractcore_secrets_resolutions_total"
    lookups = "abstractcore_secrets_lookup_duration_seconds_count"
    return [
        _variable("service", "Service", f"label_values({resolutions}, job)"),
        _variable(
            "provider",
            "Provider",
            f'label_values({resolutions}{{job=~"$service"}}, secrets_provider)',
        ),
        _variable(
            "source", "Source", f'label_values({lookups}{{job=~"$service"}}, secrets_source)'
        ),
    ]


def _variable(name: str, label: str, label_values: str) -> dashboard_builders.QueryVariable:
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(label_values)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    time_from: str,
    sections: Sequence[Section],
) -> models.Dashboard:
    """Assemble a dashboard from its sections.

    Args:
        uid: The dashboard's stable uid, used in URLs.
        title: Its title.
        description: Who it is for and what it answers.
        time_from: The default start of the time range, e.g. ``now-6h``.
        sections: Row titles and their panels, top to bottom.

    Returns:
        The dashboard model, panels numbered from 1 in order.
    """
    builder = (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .time(time_from, "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .variables(list(variables()))
        .link(
            dashboard_builders.DashboardLink("abstractcore-secrets")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for row_title, panels in sections:
        builder = builder.with_row(dashboard_builders.Row(row_title))
        for panel in panels:
            builder = builder.with_panel(panel)
    model = builder.build()
    for number, panel_model in enumerate(model.panels or [], start=1):
        panel_model.id_val = number
    return model
