"""Colours shared by the report and the dashboard (one scale for every map of every month)."""

from __future__ import annotations

#: Country colour scale [% of the world's hashrate, from 0 to the map's top].
SHARE_SCALE = [[0.0, "#fff7ec"], [0.02, "#fee8c8"], [0.06, "#fdd49e"], [0.12, "#fdbb84"],
               [0.22, "#fc8d59"], [0.4, "#ef6548"], [0.65, "#d7301f"], [1.0, "#7f0000"]]

#: Province colour scale [% of China]: even 1 % stands out from the grey of unlisted provinces.
PROVINCE_SCALE = [[0.0, "#fde3b0"], [0.05, "#fdc97e"], [0.15, "#fc9d5a"], [0.35, "#ef6548"],
                  [0.65, "#c81d13"], [1.0, "#67000d"]]
