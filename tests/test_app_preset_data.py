"""A preset keeps the data source the user chose for its data set (MNIST from their folder stays
from their folder, so Train does not try to download it); a preset of another data set says so."""

from __future__ import annotations

from app.controls import ControlPanel
from vae_core.config import DataConfig


def choose_preset(panel: ControlPanel, name: str) -> None:
    """As a user picks it from the list: the entry becomes current, then `textActivated`."""
    panel.preset_combo.setCurrentText(name)
    panel.preset_combo.textActivated.emit(name)


def test_a_preset_of_the_chosen_data_set_keeps_its_folder(qtbot, tmp_path):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    folder = str(tmp_path / "my-mnist")
    panel.choose_data(DataConfig(dataset="mnist", data_dir=folder))
    choose_preset(panel, "mnist-quick")
    config = panel.config()
    assert config.model.latent_dim == 20 and config.train.batch_size == 128  # the recipe applied
    assert config.data.dataset == "mnist" and config.data.data_dir == folder
    with qtbot.assertNotEmitted(panel.said):  # the same data set: nothing to say
        choose_preset(panel, "mnist-quick")


def test_a_preset_keeps_the_folder_chosen_for_its_set_before_another_set(qtbot, tmp_path):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    folder = str(tmp_path / "my-mnist")
    panel.choose_data(DataConfig(dataset="mnist", data_dir=folder))
    panel.dataset_combo.setCurrentText("glyphs")
    choose_preset(panel, "mnist-quick")
    assert panel.config().data.data_dir == folder


def test_a_preset_of_another_data_set_says_which_it_put_in_place(qtbot, tmp_path):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    folder = str(tmp_path / "my-mnist")
    panel.choose_data(DataConfig(dataset="mnist", data_dir=folder))
    with qtbot.waitSignal(panel.said) as said:
        choose_preset(panel, "glyphs-demo")
    line = said.args[0]
    assert "glyphs-demo" in line and "trains on glyphs" in line and folder in line
    assert panel.config().data.dataset == "glyphs"


def test_the_window_shows_the_presets_line_in_its_status_bar(qtbot):
    from app.main_window import MainWindow

    window = MainWindow()  # never shown: nothing loads the preset's data ahead of Train
    qtbot.addWidget(window)
    choose_preset(window.controls, "mnist-quick")
    assert "trains on mnist, not glyphs" in window.statusBar().message()
