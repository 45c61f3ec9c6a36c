"""The central image view: fit, 1:1 in device pixels, zoom about the cursor, previews that keep the view."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QMouseEvent, QNativeGestureEvent, QPointingDevice, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.image_view import ImageView  # noqa: E402


@pytest.fixture
def view(qtbot):
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def image_rect_on_screen(view: ImageView, width: int, height: int):
    return view.mapFromScene(0, 0), view.mapFromScene(width, height)


def wheel(view: ImageView, at: QPoint, angle: QPoint, pixels: QPoint = QPoint(),
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    event = QWheelEvent(QPointF(at), QPointF(view.viewport().mapToGlobal(at)), pixels, angle,
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_a_new_image_is_fitted_into_the_view(view):
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    assert view.zoom == pytest.approx(400 / 2048)
    top_left, bottom_right = image_rect_on_screen(view, 2048, 1024)
    assert (top_left.x(), bottom_right.x()) == (0, 400)  # as wide as the view, centred vertically
    assert top_left.y() == 300 - bottom_right.y() > 0


def test_actual_size_shows_one_image_pixel_per_screen_pixel(view):
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    zooms = []
    view.zoom_changed.connect(zooms.append)
    view.actual_size()
    assert view.zoom == 1.0 and zooms == [1.0]
    assert (view.mapFromScene(1100, 600) - view.mapFromScene(1000, 500)) == QPoint(100, 100)


def test_actual_size_counts_device_pixels_on_a_retina_screen(view, monkeypatch):
    monkeypatch.setattr(view, "devicePixelRatioF", lambda: 2.0)
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    view.actual_size()
    # 100 image pixels = 100 device pixels = 50 logical pixels at a ratio of 2.
    assert (view.mapFromScene(1100, 500) - view.mapFromScene(1000, 500)) == QPoint(50, 0)
    view.fit()
    assert view.zoom == pytest.approx(2 * 400 / 2048)


def test_zoom_by_doubles_about_the_centre(view):
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    view.actual_size()
    centre = view.mapToScene(view.viewport().rect().center())
    view.zoom_by(2)
    assert view.zoom == 2.0
    assert (view.mapToScene(view.viewport().rect().center()) - centre).manhattanLength() <= 1


def test_a_same_size_image_keeps_zoom_and_scroll_a_new_size_fits_again(view):
    view.set_image(Image.new("RGB", (1024, 1024), "gray"))
    view.zoom_by(8)
    view.horizontalScrollBar().setValue(1234)
    view.verticalScrollBar().setValue(567)
    view.set_image(Image.new("RGB", (1024, 1024), "white"))  # the final image after the previews
    assert view.zoom == pytest.approx(8 * 300 / 1024)
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) == (1234, 567)
    view.set_image(Image.new("RGB", (512, 768), "white"))
    assert view.zoom == pytest.approx(300 / 768)
    top_left, bottom_right = image_rect_on_screen(view, 512, 768)
    assert (top_left.y(), bottom_right.y()) == (0, 300)


def test_a_mouse_wheel_zooms_about_the_cursor_a_trackpad_scroll_pans(view):
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    view.actual_size()
    cursor = QPoint(80, 60)
    under_cursor = view.mapToScene(cursor)
    wheel(view, cursor, QPoint(0, 120))
    assert view.zoom == pytest.approx(1.25)
    assert (view.mapToScene(cursor) - under_cursor).manhattanLength() < 2  # the spot under the pointer stays
    wheel(view, cursor, QPoint(0, -120))
    assert view.zoom == pytest.approx(1.0)

    zoom, scroll = view.zoom, view.verticalScrollBar().value()
    wheel(view, cursor, QPoint(0, -60), pixels=QPoint(0, -30))
    assert view.zoom == zoom and view.verticalScrollBar().value() > scroll
    wheel(view, cursor, QPoint(0, 60), pixels=QPoint(0, 30), modifiers=Qt.KeyboardModifier.ControlModifier)
    assert view.zoom > zoom


def test_a_pinch_zooms(view):
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    fitted = view.zoom
    centre = QPointF(200, 150)
    pinch = QNativeGestureEvent(Qt.NativeGestureType.ZoomNativeGesture, QPointingDevice.primaryPointingDevice(), 2,
                                centre, centre, QPointF(view.viewport().mapToGlobal(centre.toPoint())), 0.5,
                                QPointF())
    QApplication.sendEvent(view.viewport(), pinch)
    assert view.zoom == pytest.approx(fitted * 1.5)


def test_zoomed_in_pixels_keep_hard_edges_zoomed_out_they_are_smoothed(view):
    checker = Image.new("RGB", (8, 8), "black")
    for x in range(0, 8, 2):
        for y in range(8):
            checker.putpixel((x, y), (255, 255, 255))
    view.set_image(checker)  # fitted: 37.5 screen pixels per image pixel
    rendered = view.grab().toImage()
    greys = {rendered.pixelColor(x, 150).red() for x in range(60, 340)}
    assert greys <= {0, 255}  # no blended columns between the image pixels

    stripes = Image.new("RGB", (800, 400), "black")
    for x in range(0, 800, 2):
        stripes.paste((255, 255, 255), (x, 0, x + 1, 400))
    view.set_image(stripes)  # fitted at 1/2: one screen pixel covers a white and a black column
    rendered = view.grab().toImage()
    middle = view.mapFromScene(400, 200)
    assert 60 < rendered.pixelColor(middle.x(), middle.y()).red() < 200


def middle_band_colours(view: ImageView) -> set[int]:
    rendered = view.grab().toImage()
    return {rendered.pixelColor(x, y).rgb() for x in range(100, 300) for y in range(135, 165)}


def test_an_empty_view_shows_a_placeholder_text_until_an_image_arrives(view):
    assert len(middle_band_colours(view)) > 1  # the text's glyphs on the background
    view.set_image(Image.new("RGB", (400, 300), (90, 120, 150)))
    assert middle_band_colours(view) == {QColor(90, 120, 150).rgb()}
    view.clear()
    assert len(middle_band_colours(view)) > 1


def test_dragging_pans_a_zoomed_in_image(view):
    view.set_image(Image.new("RGB", (2048, 1024), "gray"))
    view.actual_size()
    before = view.mapToScene(200, 150)
    viewport = view.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, at, buttons in ((QEvent.Type.MouseButtonPress, QPointF(200, 150), left),
                              (QEvent.Type.MouseMove, QPointF(170, 130), left),
                              (QEvent.Type.MouseMove, QPointF(140, 110), left),
                              (QEvent.Type.MouseButtonRelease, QPointF(140, 110), none)):
        QApplication.sendEvent(viewport, QMouseEvent(kind, at, QPointF(viewport.mapToGlobal(at.toPoint())), left,
                                                     buttons, Qt.KeyboardModifier.NoModifier))
    # The image followed the hand: what was under (200, 150) is now under (140, 110).
    assert (view.mapToScene(140, 110) - before).manhattanLength() < 2
    assert view.zoom == 1.0
