"""Try the trained model on your own input: draw a digit, pick or upload an image, type a sentence,
enter feature values; see the prediction with its class probabilities. The exact input the model saw
can be downloaded (.npy), to check the exported ONNX file against the app."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import streamlit as st
import torch
from PIL import Image

from builder import charts, markdown, tab_state, trained_model
from builder.results import finished_run, picture
from runtime import datasets
from runtime.datasets.uploads import open_image

DRAW_SIZE = 196          # pixels of the drawing pad
DRAWN_SHARE = 0.8        # a digit drawn "large and centred" is about this share of the pad tall, its pen included
PEN_PX = (6, 48)         # the narrowest and widest pen the pad gets, whatever the training images' strokes
INK = 0.05               # a pixel brighter than this (of 1) is ink, in a drawing and in a training image
MAX_IMAGE_BYTES = 10_000_000
PAD_KEY = "playground_canvas"
PREVIEW_PX = 140         # the width of "what the model sees"
TOOLBAR_ROOM = '<div style="height:22px"></div>'   # the pad's toolbar floats above it


def normalize(x: np.ndarray, normalization: dict[str, Any] | None, image: bool) -> np.ndarray:
    """Raw values -> what the model was trained on: (x - mean) / std with the training statistics."""
    if not normalization:
        return x.astype(np.float32)
    shape = (-1, 1, 1) if image else (-1,)
    mean = np.asarray(normalization["mean"], dtype=np.float32).reshape(shape)
    std = np.asarray(normalization["std"], dtype=np.float32).reshape(shape)
    return ((x - mean) / std).astype(np.float32)


def drawing_to_digit(rgba: np.ndarray, height: int, width: int, box: float,
                     dark_on_light: bool = False, by_mass: bool = False) -> np.ndarray:
    """White strokes on black (H, W, 4) -> (height, width) ink in [0, 1], framed like the training images:
    the strokes' bounding box scaled so its longer side is `box` of the image's shorter side (digit_box),
    and centred: the box's centre, or with `by_mass` the ink's centre of mass (centred_by_mass), kept inside
    the image. `dark_on_light` shades it as training images of dark ink on light paper are (an uploaded
    image folder's), where a light drawing on black would be a picture unlike any the model has seen."""
    ink = rgba[..., :3].astype(np.float32).mean(axis=-1) / 255.0
    rows, cols = np.nonzero(ink > INK)
    if len(rows) == 0:
        return np.full((height, width), float(dark_on_light), dtype=np.float32)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(1, round(box * min(height, width)))
    scale = side / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((w, h), Image.LANCZOS),
                       dtype=np.float32) / 255.0
    out = np.zeros((height, width), dtype=np.float32)
    top, left = (height - h) // 2, (width - w) // 2
    if by_mass:
        rows_mass, cols_mass = _centre_of_mass(small[None])
        top = int(np.clip(round((height - 1) / 2 - rows_mass[0]), 0, height - h))
        left = int(np.clip(round((width - 1) / 2 - cols_mass[0]), 0, width - w))
    out[top:top + h, left:left + w] = small
    return 1.0 - out if dark_on_light else out


def image_file_to_pixels(data: bytes, channels: int, height: int, width: int, name: str = "The file") -> np.ndarray:
    """An uploaded picture -> (channels, height, width) in [0, 1]; ValueError says what is wrong with `name`."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"{name} is {len(data) / 1e6:.1f} MB; at most {MAX_IMAGE_BYTES / 1e6:.0f} MB.")
    image = open_image(data, name)           # a DatasetError, a ValueError, says what is wrong
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:   # seen on a white page
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def background(pixels: np.ndarray) -> float:
    """The brightness of an image's background, (C, H, W) in [0, 1]: the mean of its outermost pixels."""
    edge = np.concatenate([pixels[:, 0, :], pixels[:, -1, :], pixels[:, :, 0], pixels[:, :, -1]], axis=-1)
    return float(edge.mean())


def like_training(pixels: np.ndarray, training_background: float) -> tuple[np.ndarray, bool]:
    """A grey picture with the training images' polarity: a digit photographed dark on white paper is inverted
    for a model trained on light digits on black (MNIST's), which would otherwise guess at random. Returns
    the pixels and whether they were inverted."""
    if (background(pixels) > 0.5) != (training_background > 0.5):
        return 1.0 - pixels, True
    return pixels, False


def training_pictures(trained: trained_model.Trained) -> np.ndarray:
    """The first 256 grey training images as (N, H, W) pixels in [0, 1], their normalization undone."""
    norm = trained.splits.normalization
    return np.stack([picture(x, norm) for x in trained.splits.x_train[:256]])


def training_background(pictures: np.ndarray) -> float:
    """The training images' background brightness, from (N, H, W) pictures."""
    return float(np.mean([background(p[None]) for p in pictures]))


def bright_ink(pictures: np.ndarray) -> np.ndarray:
    """(N, H, W) pictures with their ink the bright part: dark ink on light paper inverted."""
    return pictures if training_background(pictures) <= 0.5 else 1.0 - pictures


def digit_box(pictures: np.ndarray) -> float:
    """How large the training images draw their digit: the median of the longer side of each one's ink, as a
    fraction of the image's shorter side, from (N, H, W) pictures. MNIST centres its digits in 20 of 28 pixels
    (0.71); the 8x8 Digits fill their frame (1.0), and a drawing framed like MNIST's came out 6 pixels tall."""
    sides = []
    for p in bright_ink(pictures):
        rows, cols = np.nonzero(p > INK)
        if len(rows):
            sides.append(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)
    return float(np.median(sides)) / min(pictures.shape[1:]) if sides else 1.0


def _centre_of_mass(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row and the column of the centre of mass of each of (N, H, W) pictures of bright ink."""
    mass = np.maximum(ink.sum(axis=(1, 2)), 1e-12)
    return ((ink.sum(axis=2) * np.arange(ink.shape[1])).sum(axis=1) / mass,
            (ink.sum(axis=1) * np.arange(ink.shape[2])).sum(axis=1) / mass)


def centred_by_mass(pictures: np.ndarray) -> bool:
    """Whether the (N, H, W) training pictures centre their ink's centre of mass, as MNIST does, rather than
    its bounding box, as the 8x8 Digits do: whichever of the two lies nearer the image's centre on average.
    Centred by its box, a drawn 7 had its centre of mass 3 pixels above MNIST's centre, and an MLP trained
    on MNIST read it as a 2."""
    ink = bright_ink(pictures)
    ink = np.where(ink > INK, ink, 0.0)[ink.max(axis=(1, 2)) > INK]              # (N, H, W), blank ones left out
    if not len(ink):
        return False
    _, height, width = ink.shape
    rows_mass, cols_mass = _centre_of_mass(ink)
    inked_rows, inked_cols = ink.max(axis=2) > 0, ink.max(axis=1) > 0            # (N, H), (N, W)
    rows_box = (inked_rows.argmax(axis=1) + height - 1 - inked_rows[:, ::-1].argmax(axis=1)) / 2
    cols_box = (inked_cols.argmax(axis=1) + width - 1 - inked_cols[:, ::-1].argmax(axis=1)) / 2
    centre_row, centre_col = (height - 1) / 2, (width - 1) / 2
    mass_off = np.mean((rows_mass - centre_row) ** 2 + (cols_mass - centre_col) ** 2)     # squared pixels
    box_off = np.mean((rows_box - centre_row) ** 2 + (cols_box - centre_col) ** 2)
    return bool(mass_off < box_off)


def stroke_width(pictures: np.ndarray) -> float:
    """How thick the strokes of (N, H, W) pictures are, in pixels: the median of each one's ink area over half
    its outline's length (a stroke L long and w wide has an area of L*w and an outline of about 2*L, so short
    strokes measure a little thin). Both are summed over the grey levels of the ink (pixels brighter than INK),
    so a downscaled stroke's soft edges count for what they hold: MNIST's strokes measure 2.4 pixels, the
    8x8 Digits' 1.5."""
    ink = bright_ink(pictures)
    ink = np.pad(np.where(ink > INK, ink, 0.0), ((0, 0), (1, 1), (1, 1)))           # (N, H + 2, W + 2)
    steps_down, steps_across = np.diff(ink, axis=1)[:, :, :-1], np.diff(ink, axis=2)[:, :-1, :]
    outline = np.hypot(steps_down, steps_across).sum(axis=(1, 2))                    # (N,)
    area = ink.sum(axis=(1, 2))
    inked = outline > 0
    return float(np.median(2 * area[inked] / outline[inked])) if inked.any() else 1.0


def pen_width(pictures: np.ndarray) -> int:
    """The pad's pen width in pixels, so that a stroke drawn with it comes out as thick as the strokes of the
    (N, H, W) training pictures: a digit drawn DRAWN_SHARE of the pad tall is framed to digit_box of the image
    (drawing_to_digit), which thins its strokes by as much. 29 px for the 8x8 Digits and 18 for MNIST: a pen
    of 16 px for both drew Digits' strokes three quarters as thick as theirs, and MNIST's 0.85."""
    framed = digit_box(pictures) * min(pictures.shape[1:])       # image pixels the drawing's longer side becomes
    pen = stroke_width(pictures) * DRAWN_SHARE * DRAW_SIZE / framed
    return int(np.clip(round(pen), *PEN_PX))


def show(run_id: str | None) -> None:
    trained = finished_run(run_id, "the playground opens")
    if trained is None:
        return
    name = trained.splits.name
    kind = datasets.kind_of(name)
    left, right = st.columns([1, 1.2])
    with left:
        x = {"image": _image_input, "text": _text_input, "table": _table_input,
             "sequence": _pick_test_sample}[kind](trained)
    with right:
        if x is not None:
            _prediction(trained, x)


def _image_input(trained: trained_model.Trained) -> np.ndarray | None:
    channels, height, width = trained.compiled.input_shape
    ways = (["Draw"] if channels == 1 else []) + ["Pick a test image", "Upload an image"]
    chosen = tab_state.kept("playground_way", ways[0])
    way = st.radio("Input", ways, index=ways.index(chosen) if chosen in ways else 0, horizontal=True,
                   key="playground_way", on_change=tab_state.keep, args=("playground_way",))
    if way == "Draw":
        from streamlit_drawable_canvas import st_canvas   # registers a component: import inside the page
        st.caption("Draw a digit with the mouse, large and centred.")
        st.markdown(TOOLBAR_ROOM, unsafe_allow_html=True)
        pictures = training_pictures(trained)
        rgba = _drawing(st_canvas, pen_width(pictures))
        if rgba is None or rgba[..., :3].max() == 0:
            return None
        dark_on_light = training_background(pictures) > 0.5
        pixels = drawing_to_digit(rgba, height, width, digit_box(pictures), dark_on_light,
                                  centred_by_mass(pictures))[None]
        if dark_on_light:
            st.caption("Shades inverted: the training images are dark ink on a light background.")
    elif way == "Upload an image":
        upload = st.file_uploader("Image", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"], key="playground_upload",
                                  on_change=tab_state.keep, args=("playground_upload",))
        if upload is None:               # the uploader comes back empty after another tab: the file is kept
            upload = tab_state.kept("playground_upload", None)
            if upload is None:
                return None
            st.caption(f"{markdown.escape(upload.name)}, uploaded before: upload another to replace it.")
        try:
            pixels = image_file_to_pixels(upload.getvalue(), channels, height, width, name=upload.name)
        except ValueError as e:
            st.error(markdown.escape(str(e)))
            return None
        if channels == 1:
            pixels, inverted = like_training(pixels, training_background(training_pictures(trained)))
            if inverted:
                st.caption("Shades inverted: the training images have the opposite background (light ink on "
                           "dark, or dark on light).")
    else:
        index = _test_sample_number("Test image number", trained)
        x = trained.splits.x_test[int(index)].numpy()
        label = (f"labelled {trained.splits.class_names[int(trained.splits.y_test[int(index)])]}"
                 if trained.task == "classification" else "")
        st.markdown(charts.image_figure(picture(torch.from_numpy(x), trained.splits.normalization), label,
                                        PREVIEW_PX), unsafe_allow_html=True)
        return x[None]
    seen = np.clip(pixels[0] if channels == 1 else pixels.transpose(1, 2, 0), 0, 1)
    st.markdown(charts.image_figure(seen, "what the model sees", PREVIEW_PX), unsafe_allow_html=True)
    return normalize(pixels, trained.splits.normalization, image=True)[None]


def _drawing(st_canvas, pen: int) -> np.ndarray | None:
    """The pad's picture (H, W, 4), drawn with a `pen` pixels wide, or None before anything is drawn. The picture is
    kept while another tab is open and stands, with a caption, until the next stroke: the pad itself comes back
    empty (given its strokes back, its reset button would restore them instead of clearing it)."""
    result = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000", height=DRAW_SIZE,
                       width=DRAW_SIZE, drawing_mode="freedraw", return_image_data=True, key=PAD_KEY)
    if result.image_data is not None:                   # the pad sent a stroke (or was cleared)
        tab_state.keep_value(PAD_KEY, result.image_data)
        return result.image_data
    kept = tab_state.kept(PAD_KEY, None)
    if kept is not None and kept[..., :3].max() > 0:
        st.caption("The digit drawn before another tab was opened: draw on the pad to replace it.")
    return kept


def _text_input(trained: trained_model.Trained) -> np.ndarray | None:
    text = st.text_area("Type a sentence", tab_state.kept("playground_text", "a gripping story with wonderful actors"),
                        key="playground_text", on_change=tab_state.keep, args=("playground_text",))
    if not text.strip():
        return None
    return trained.splits.encode_text(text).numpy()


def _table_input(trained: trained_model.Trained) -> np.ndarray | None:
    """One number per feature, starting from the first test sample's values in their own units."""
    norm = trained.splits.normalization
    first = trained.splits.x_test[0].numpy()
    raw = first * np.asarray(norm["std"]) + np.asarray(norm["mean"]) if norm else first
    features = trained.splits.feature_names or [f"x{j}" for j in range(len(raw))]
    values = []
    cols = st.columns(2)
    for j, (feature, start) in enumerate(zip(features, raw.tolist())):
        key = f"playground_feature_{j}"
        values.append(cols[j % 2].number_input(feature, value=float(tab_state.kept(key, round(start, 4))), format="%g",
                                               key=key, on_change=tab_state.keep, args=(key,)))
    return normalize(np.asarray(values, dtype=np.float32), norm, image=False)[None]


def _test_sample_number(label: str, trained: trained_model.Trained) -> int:
    """The test sample to try, kept while another tab is open (within this run's test split)."""
    last = len(trained.splits.y_test) - 1
    return int(st.number_input(label, 0, last, min(int(tab_state.kept("playground_pick", 0)), last),
                               key="playground_pick", on_change=tab_state.keep, args=("playground_pick",)))


def _pick_test_sample(trained: trained_model.Trained) -> np.ndarray | None:
    index = _test_sample_number("Test sample number", trained)
    x = trained.splits.x_test[int(index)].numpy()
    st.plotly_chart(charts.sequence_figure([(x.tolist(), "input")]), key="playground_sequence",
                    config=charts.CONFIG)
    return x[None]


def _prediction(trained: trained_model.Trained, x: np.ndarray) -> None:
    tensor = torch.from_numpy(np.ascontiguousarray(x))
    if trained.task == "classification":
        probabilities = trained.probabilities(tensor)[0].tolist()
        names = trained.splits.class_names or [str(i) for i in range(len(probabilities))]
        best = int(np.argmax(probabilities))
        st.markdown(f"Prediction: **{markdown.escape(names[best])}** with probability "
                    f"**{probabilities[best]:.4f}**")
        st.plotly_chart(charts.probability_figure(names, probabilities), key="playground_probabilities",
                        config=charts.CONFIG)
    else:
        values = trained.values(tensor)[0].tolist()
        st.markdown("Prediction: " + ", ".join(f"**{v:.4g}**" for v in values))
    buffer = io.BytesIO()
    np.save(buffer, x, allow_pickle=False)
    st.download_button("Download this input (.npy)", buffer.getvalue(), file_name="input.npy",
                       mime="application/octet-stream", key="playground_input",
                       help="The exact tensor the model received: feed it to the exported ONNX file to compare.")
