"""The entities of SMD, SMAP and MSL as published: rows and anomalous test steps per entity.

They let `prepare` check a telemanom download channel by channel and cut a concatenated dump
(`SMAP_train.npy`, ...) back into its entities. Sources: SMAP/MSL rows and anomalies from
telemanom's `data.zip` arrays with `labeled_anomalies.csv` (inclusive ranges, P-2 left out), as
staged in `../shared/datasets` (`_conversion_report.json`); SMD test rows and anomalies from
OmniAnomaly's `test_label/`, SMD train rows from TimeSeAD's `smd_dataset.py` (`TRAIN_LENS`,
agreeing with the 19 staged machines and with the published total of 708,405).
"""
from __future__ import annotations

import typing


class KnownEntity(typing.NamedTuple):
    """One published entity: its name, train rows, test rows and anomalous test steps."""

    name: str
    train_rows: int
    test_rows: int
    anomalies: int


SMAP_CHANNELS = 25
MSL_CHANNELS = 55
SMD_CHANNELS = 38

SMAP: tuple[KnownEntity, ...] = (
    KnownEntity("P-1", 2872, 8505, 751), KnownEntity("S-1", 2818, 7331, 448),
    KnownEntity("E-1", 2880, 8516, 508), KnownEntity("E-2", 2880, 8532, 1398),
    KnownEntity("E-3", 2880, 8307, 3213), KnownEntity("E-4", 2880, 8354, 2812),
    KnownEntity("E-5", 2880, 8294, 321), KnownEntity("E-6", 2880, 8300, 66),
    KnownEntity("E-7", 2769, 8310, 281), KnownEntity("E-8", 2880, 8532, 623),
    KnownEntity("E-9", 2880, 8302, 351), KnownEntity("E-10", 2880, 8505, 322),
    KnownEntity("E-11", 2880, 8514, 295), KnownEntity("E-12", 2880, 8512, 583),
    KnownEntity("E-13", 2880, 8640, 264), KnownEntity("A-1", 2880, 8640, 85),
    KnownEntity("D-1", 2849, 8509, 3259), KnownEntity("P-3", 2855, 8493, 1336),
    KnownEntity("D-2", 2880, 8595, 4218), KnownEntity("D-3", 2880, 8640, 3276),
    KnownEntity("D-4", 2833, 8473, 3248), KnownEntity("A-2", 2648, 7914, 111),
    KnownEntity("A-3", 2736, 8205, 186), KnownEntity("A-4", 2690, 8080, 111),
    KnownEntity("G-1", 2820, 8469, 121), KnownEntity("G-2", 2478, 7361, 41),
    KnownEntity("D-5", 2561, 7628, 51), KnownEntity("D-6", 2594, 7884, 81),
    KnownEntity("D-7", 2583, 7642, 2702), KnownEntity("F-1", 2869, 8584, 101),
    KnownEntity("P-4", 2609, 7783, 443), KnownEntity("G-3", 2624, 7907, 51),
    KnownEntity("T-1", 2875, 8612, 1536), KnownEntity("T-2", 2855, 8625, 1785),
    KnownEntity("D-8", 2602, 7874, 51), KnownEntity("D-9", 2583, 7406, 1156),
    KnownEntity("F-2", 2861, 8626, 2957), KnownEntity("G-4", 2551, 7632, 31),
    KnownEntity("T-3", 2876, 8579, 184), KnownEntity("D-11", 2611, 7431, 61),
    KnownEntity("D-12", 312, 7918, 2740), KnownEntity("B-1", 2435, 8044, 71),
    KnownEntity("G-6", 2881, 8640, 101), KnownEntity("G-7", 2446, 8029, 268),
    KnownEntity("P-7", 2853, 8071, 1651), KnownEntity("R-1", 2874, 7244, 81),
    KnownEntity("A-5", 705, 4693, 51), KnownEntity("A-6", 682, 4453, 41),
    KnownEntity("A-7", 2879, 8631, 2401), KnownEntity("D-13", 1490, 7663, 161),
    KnownEntity("A-8", 762, 8375, 3806), KnownEntity("A-9", 762, 8434, 3865),
    KnownEntity("F-3", 2880, 8376, 41),
)
"""SMAP's 53 channels in the order of telemanom's labeled_anomalies.csv (P-2 left out)."""

MSL: tuple[KnownEntity, ...] = (
    KnownEntity("M-6", 1565, 2049, 181), KnownEntity("M-1", 2209, 2277, 1141),
    KnownEntity("M-2", 2208, 2277, 1141), KnownEntity("S-2", 926, 1827, 11),
    KnownEntity("P-10", 4308, 6100, 131), KnownEntity("T-4", 2272, 2217, 69),
    KnownEntity("T-5", 2272, 2218, 26), KnownEntity("F-7", 2511, 5054, 423),
    KnownEntity("M-3", 2037, 2127, 251), KnownEntity("M-4", 2076, 2038, 251),
    KnownEntity("M-5", 2032, 2303, 301), KnownEntity("P-15", 3682, 2856, 21),
    KnownEntity("C-1", 2158, 2264, 312), KnownEntity("C-2", 764, 2051, 137),
    KnownEntity("T-12", 1145, 2430, 121), KnownEntity("T-13", 1145, 2430, 252),
    KnownEntity("F-4", 2244, 3422, 71), KnownEntity("F-5", 2598, 3922, 151),
    KnownEntity("D-14", 3675, 2625, 222), KnownEntity("T-9", 439, 1096, 112),
    KnownEntity("P-14", 2880, 6100, 181), KnownEntity("T-8", 748, 1519, 102),
    KnownEntity("P-11", 3969, 3535, 228), KnownEntity("D-15", 2074, 2158, 641),
    KnownEntity("D-16", 1451, 2191, 651), KnownEntity("M-7", 1587, 2156, 101),
    KnownEntity("F-8", 3342, 2487, 537),
)
"""MSL's 27 channels in the order of telemanom's labeled_anomalies.csv."""

SMD: tuple[KnownEntity, ...] = (
    KnownEntity("machine-1-1", 28479, 28479, 2694), KnownEntity("machine-1-2", 23694, 23694, 542),
    KnownEntity("machine-1-3", 23702, 23703, 817), KnownEntity("machine-1-4", 23706, 23707, 720),
    KnownEntity("machine-1-5", 23705, 23706, 100), KnownEntity("machine-1-6", 23688, 23689, 3708),
    KnownEntity("machine-1-7", 23697, 23697, 2398), KnownEntity("machine-1-8", 23698, 23699, 763),
    KnownEntity("machine-2-1", 23693, 23694, 1170), KnownEntity("machine-2-2", 23699, 23700, 2833),
    KnownEntity("machine-2-3", 23688, 23689, 269), KnownEntity("machine-2-4", 23689, 23689, 1694),
    KnownEntity("machine-2-5", 23688, 23689, 980), KnownEntity("machine-2-6", 28743, 28743, 424),
    KnownEntity("machine-2-7", 23696, 23696, 417), KnownEntity("machine-2-8", 23702, 23703, 161),
    KnownEntity("machine-2-9", 28722, 28722, 1755), KnownEntity("machine-3-1", 28700, 28700, 308),
    KnownEntity("machine-3-2", 23702, 23703, 1109), KnownEntity("machine-3-3", 23703, 23703, 632),
    KnownEntity("machine-3-4", 23687, 23687, 977), KnownEntity("machine-3-5", 23690, 23691, 426),
    KnownEntity("machine-3-6", 28726, 28726, 1194), KnownEntity("machine-3-7", 28705, 28705, 434),
    KnownEntity("machine-3-8", 28703, 28704, 1371), KnownEntity("machine-3-9", 28713, 28713, 303),
    KnownEntity("machine-3-10", 23692, 23693, 1047), KnownEntity("machine-3-11", 28695, 28696, 198),
)
"""SMD's 28 machines, machine-1-1 to machine-3-11 in numeric order."""

CHANNELS = {"SMAP": SMAP_CHANNELS, "MSL": MSL_CHANNELS, "SMD": SMD_CHANNELS}
KNOWN = {"SMAP": SMAP, "MSL": MSL, "SMD": SMD}
