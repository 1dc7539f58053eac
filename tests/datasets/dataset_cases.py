"""What each sample dataset holds, shared by the dataset tests."""

# id -> (samples in the source, per-class counts or None, official test samples or None)
EXPECTED = {
    "mnist": (5_000, [500] * 10, None),
    "fashion_mnist": (60_000, [6_000] * 10, 10_000),
    "digits": (1_797, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180], None),
    "shapes_rgb": (3_000, [300] * 10, None),
    "iris": (150, [50, 50, 50], None),
    "wine": (178, [59, 71, 48], None),
    "breast_cancer": (569, [212, 357], None),
    "diabetes": (442, None, None),
    "penguins": (344, [152, 68, 124], None),
    "moons": (1_000, [500, 500], None),
    "circles": (1_000, [500, 500], None),
    "spirals": (1_000, [500, 500], None),
    "xor": (1_000, [500, 500], None),
    "gunpoint": (50, [24, 26], 150),
    "basicmotions": (40, [10, 10, 10, 10], 40),
    "airline": (144 - 12, None, None),      # windows of 12 months, each predicting the next
    "co2": (2_284 - 52, None, None),
    "imdb": (25_000, [12_500, 12_500], None),
    "rotten_tomatoes": (8_530, [4_265, 4_265], None),
}
# Big sources load a stratified subset in the split tests, to keep the suite fast.
SUBSET = {"fashion_mnist": 2_000, "imdb": 600, "rotten_tomatoes": 600, "co2": None}
