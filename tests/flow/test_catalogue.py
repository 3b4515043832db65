"""write_posterior_catalogue and its Dask path: a survey's posteriors to disk chunk by chunk,
the same as one predict_dist, in bounded memory, resumable after a kill."""

import h5py
import numpy as np
import pandas as pd
import pytest
from _helpers import TINY_FLOW
from sklearn.base import clone

from minuet_sk import EigengalaxyPCA, FlowPropertyRegressor, make_pipeline, parallel
from minuet_sk.encoders._latent_features import LATENT_ID
from minuet_sk.flow import _catalogue, write_posterior_catalogue

N, CHUNK = 50, 16  # four chunks: 16, 16, 16 and 2 galaxies
FEATURES = ["x0", "x1", "x2"]
STATS = ["mean", "median", "std", "p16", "p84"]


@pytest.fixture(scope="module")
def flow():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=FEATURES)
    y = pd.DataFrame({"redshift": X["x0"] + 0.1 * rng.normal(size=300),
                      "log_mstar": X["x1"] - X["x2"] + 0.1 * rng.normal(size=300)})
    return FlowPropertyRegressor(**TINY_FLOW).fit(X, y)


@pytest.fixture(scope="module")
def table():
    """Galaxies named G0 .. G49 (a column) and their features."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(N, 3)), columns=FEATURES)
    frame.insert(0, "objid", [f"G{i}" for i in range(N)])
    return frame


@pytest.fixture(scope="module")
def expected(flow, table):
    """What one predict_dist of every galaxy summarises (galaxies numbered by row)."""
    return flow.predict_dist(table[FEATURES]).to_frame()


def read(out):
    out = str(out)
    return pd.read_csv(out) if out.endswith(".csv") else pd.read_parquet(out)


def assert_same_summaries(catalogue, expected):
    assert catalogue["galaxy"].tolist() == expected["galaxy"].tolist()
    assert catalogue["target"].tolist() == expected["target"].tolist()
    np.testing.assert_allclose(catalogue[STATS].to_numpy(), expected[STATS].to_numpy(),
                               rtol=1e-6, atol=1e-7)


def sources(table, tmp_path):
    """The same features in every form the writer reads: (source, identifiers carried)."""
    table.to_parquet(tmp_path / "f.parquet")
    table.to_csv(tmp_path / "f.csv", index=False)
    values = table[FEATURES].to_numpy()
    np.save(tmp_path / "f.npy", values)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["latents"] = values
    return {
        "parquet": (tmp_path / "f.parquet", True),
        "csv": (str(tmp_path / "f.csv"), True),
        "npy": (tmp_path / "f.npy", False),
        "hdf5": (tmp_path / "f.h5", False),
        "array": (values, False),
        "frame": (table, True),
        "chunks": ((table.iloc[i:i + 7] for i in range(0, N, 7)), True),
    }


class TestSameAsOnePredictDist:
    @pytest.mark.parametrize("kind", ["parquet", "csv", "npy", "hdf5", "array", "frame",
                                      "chunks"])
    def test_every_source(self, flow, table, expected, tmp_path, kind):
        source, carried = sources(table, tmp_path)[kind]
        out = write_posterior_catalogue(flow, source, tmp_path / "cat", chunk_size=CHUNK,
                                        progress=False)
        catalogue = read(out)
        assert_same_summaries(catalogue, expected)
        if carried:  # each galaxy keeps its name, whatever chunk it was in
            assert list(catalogue.columns[:3]) == ["objid", "galaxy", "target"]
            assert (catalogue["objid"] == "G" + catalogue["galaxy"].astype(str)).all()
        else:
            assert list(catalogue.columns[:2]) == ["galaxy", "target"]

    @pytest.mark.parametrize("name", ["cat.parquet", "cat.csv", "cat"])
    def test_every_output(self, flow, table, expected, tmp_path, name):
        out = write_posterior_catalogue(flow, table, tmp_path / name, chunk_size=CHUNK,
                                        progress=False)
        assert out == tmp_path / name
        assert_same_summaries(read(out), expected)
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no parts left beside

    def test_a_dataframe_index_names_the_galaxies(self, flow, table, tmp_path):
        named = table.set_index("objid")
        out = write_posterior_catalogue(flow, named, tmp_path / "cat", chunk_size=CHUNK,
                                        progress=False)
        assert_same_summaries(read(out), flow.predict_dist(named).to_frame())
        assert read(out)["galaxy"].iloc[-1] == "G49"

    def test_the_draws_are_the_posterior_samples(self, flow, table, tmp_path):
        out = write_posterior_catalogue(flow, table, tmp_path / "cat.parquet",
                                        chunk_size=CHUNK, keep_draws=True, n_samples=30,
                                        progress=False)
        catalogue = read(out)
        draws = np.stack(catalogue["draws"]).reshape(N, 2, 30).transpose(0, 2, 1)
        samples = flow.predict_dist(table[FEATURES], n_samples=30).samples
        np.testing.assert_allclose(draws, samples, rtol=1e-6, atol=1e-7)
        assert catalogue["std"].iloc[0] == pytest.approx(draws[0, :, 0].std(), rel=1e-5)
        # Parquet reads columns apart: the summaries alone leave the draws on disk
        assert "draws" not in pd.read_parquet(out, columns=["galaxy", "mean"]).columns

    def test_draws_need_parquet(self, flow, table, tmp_path):
        with pytest.raises(ValueError, match="draws need a Parquet output"):
            write_posterior_catalogue(flow, table, tmp_path / "cat.csv", keep_draws=True)
        assert not list(tmp_path.iterdir())


class TestImagesThroughAPipeline:
    def test_cutouts_from_hdf5_are_encoded_chunk_by_chunk(self, tmp_path):
        from _helpers import make_blobs_images

        images = make_blobs_images(60, shape=(3, 8, 8), random_state=2)
        encoder = EigengalaxyPCA(3, image_shape=(3, 8, 8)).fit(images)
        rng = np.random.default_rng(0)
        latents = encoder.transform(images)
        model = make_pipeline(encoder, FlowPropertyRegressor(**TINY_FLOW).fit(
            latents, latents[:, 0] + 0.1 * rng.normal(size=60)))
        with h5py.File(tmp_path / "cutouts.h5", "w") as f:
            f["images"] = images
        with h5py.File(tmp_path / "cutouts.h5", "r") as f:
            out = write_posterior_catalogue(model, f["images"], tmp_path / "cat",
                                            chunk_size=CHUNK, progress=False)
        assert_same_summaries(read(out), model.predict_dist(images).to_frame())

    def test_the_shipped_encoder_and_flow_over_an_hdf5_of_cutouts(self, tmp_path):
        from _helpers import make_blobs_images

        from minuet_sk import Pipeline

        images = 0.5 * make_blobs_images(6, shape=(3, 72, 72), random_state=3)
        with h5py.File(tmp_path / "cutouts.h5", "w") as f:
            f["images"] = images
        model = Pipeline.from_pretrained(device="cpu")
        # the encoder's matrix products round a galaxy's latents to the last bit differently
        # in batches of other sizes, and the last bit seeds its draws: a chunk's posteriors
        # are those of predict_dist on that chunk, which a resumed run cuts the same way
        by_chunk = pd.concat([model.predict_dist(images[i:i + 4], n_samples=50).to_frame()
                              for i in (0, 4)], ignore_index=True)
        by_chunk["galaxy"] = np.repeat(range(6), 3)
        with h5py.File(tmp_path / "cutouts.h5", "r") as f:
            out = write_posterior_catalogue(model, f["images"], tmp_path / "cat.parquet",
                                            chunk_size=4, n_samples=50, progress=False)
        catalogue = read(out)
        assert_same_summaries(catalogue, by_chunk)
        assert catalogue["target"].unique().tolist() == ["redshift", "log_mstar", "log_sfr"]

    def test_latents_of_another_encoder_are_refused_before_anything_is_written(
            self, flow, table, tmp_path):
        latents = table[FEATURES].copy()
        fitted_on = latents.copy()
        fitted_on.attrs[LATENT_ID] = "MinuetEncoder/mine:aaaaaaaaaaaa"
        signed = clone(flow).fit(fitted_on, latents[["x0", "x1"]].set_axis(
            ["redshift", "log_mstar"], axis=1))
        latents.attrs[LATENT_ID] = "MinuetEncoder/other:bbbbbbbbbbbb"
        latents.to_parquet(tmp_path / "z.parquet")
        with pytest.raises(ValueError, match="made by MinuetEncoder/other"):
            write_posterior_catalogue(signed, tmp_path / "z.parquet", tmp_path / "cat.csv")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["z.parquet"]

    @pytest.mark.parametrize("made_by, message", [
        (["MinuetEncoder/other:bbbbbbbbbbbb"] * N, "made by MinuetEncoder/other"),
        (["MinuetEncoder/mine:aaaaaaaaaaaa"] * (N - 1) + ["MinuetEncoder/other:bbbbbbbbbbbb"],
         "mixes the latents of several models"),
    ])
    def test_a_csv_says_which_encoder_in_its_latent_id_column(self, flow, table, tmp_path,
                                                               made_by, message):
        """``minuet encode`` writes the encoder's identity to CSV as a column: read back
        (a chunk at a time) it is checked as Parquet's metadata is."""
        fitted_on = table[FEATURES].copy()
        fitted_on.attrs[LATENT_ID] = "MinuetEncoder/mine:aaaaaaaaaaaa"
        signed = clone(flow).fit(fitted_on, fitted_on[["x0", "x1"]].set_axis(
            ["redshift", "log_mstar"], axis=1))
        table.assign(latent_id=made_by).to_csv(tmp_path / "z.csv", index=False)
        with pytest.raises(ValueError, match=message):
            write_posterior_catalogue(signed, tmp_path / "z.csv", tmp_path / "cat.csv",
                                      chunk_size=CHUNK)
        table.assign(latent_id="MinuetEncoder/mine:aaaaaaaaaaaa").to_csv(
            tmp_path / "mine.csv", index=False)
        write_posterior_catalogue(signed, tmp_path / "mine.csv", tmp_path / "ok.csv",
                                  chunk_size=CHUNK)
        assert read(tmp_path / "ok.csv")["galaxy"].nunique() == N


class _Killed(Exception):
    """Stands for a kill: raised from inside the run."""


def record_parts(monkeypatch, kill_after=None):
    """The parts written (and their rows), with a kill after ``kill_after`` of them."""
    written = []
    write = _catalogue._Catalogue.write_part

    def recording(self, part, estimator, chunk, *args):
        if kill_after is not None and len(written) == kill_after:
            raise _Killed
        written.append((part, len(chunk)))
        write(self, part, estimator, chunk, *args)

    monkeypatch.setattr(_catalogue._Catalogue, "write_part", recording)
    return written


class TestResume:
    @pytest.mark.parametrize("name", ["cat", "cat.csv"])
    def test_after_a_kill_only_the_rest_is_written_and_the_result_is_the_same(
            self, flow, table, tmp_path, monkeypatch, name):
        table.to_parquet(tmp_path / "f.parquet")
        whole = write_posterior_catalogue(flow, tmp_path / "f.parquet", tmp_path / "whole",
                                          chunk_size=CHUNK, progress=False)
        out = tmp_path / name
        with monkeypatch.context() as patch:
            record_parts(patch, kill_after=2)
            with pytest.raises(_Killed):
                write_posterior_catalogue(flow, tmp_path / "f.parquet", out,
                                          chunk_size=CHUNK, progress=False)
        parts = out if name == "cat" else tmp_path / "cat.csv.partial"
        assert sorted(p.name for p in parts.glob("part-*")) == [
            "part-000000.parquet", "part-000001.parquet"]
        (parts / ".part-000002.parquet.tmp").write_bytes(b"half a part: killed mid-write")
        written = record_parts(monkeypatch)
        write_posterior_catalogue(flow, tmp_path / "f.parquet", out, chunk_size=CHUNK,
                                  progress=False)
        assert written == [(2, CHUNK), (3, N - 3 * CHUNK)]  # the rows not yet written only
        pd.testing.assert_frame_equal(read(out), read(whole))
        assert not parts.exists() if name == "cat.csv" else \
            not list(parts.glob(".*.tmp"))
        written.clear()  # a complete folder is left as it is
        write_posterior_catalogue(flow, tmp_path / "f.parquet", tmp_path / "whole",
                                  chunk_size=CHUNK, progress=False)
        assert written == []

    def test_a_resumed_run_reads_only_the_chunks_left(self, flow, table, tmp_path,
                                                      monkeypatch):
        source = Guarded(table[FEATURES].to_numpy(), CHUNK)
        with monkeypatch.context() as patch:
            record_parts(patch, kill_after=3)
            with pytest.raises(_Killed):
                write_posterior_catalogue(flow, source, tmp_path / "cat", chunk_size=CHUNK,
                                          progress=False)
        source.reads.clear()
        write_posterior_catalogue(flow, source, tmp_path / "cat", chunk_size=CHUNK,
                                  progress=False)
        assert source.reads == [(0, 1), (48, 50)]  # the first row (checks), the last chunk

    @pytest.mark.parametrize("change, differ", [
        ({"n_samples": 30}, "n_samples"),
        ({"chunk_size": 20}, "chunk_size"),
        ({"keep_draws": True}, "keep_draws"),
        ({"id_columns": []}, "id_columns"),
        ({"features": "other"}, "features"),
        ({"estimator": "refitted"}, "model"),
    ])
    def test_another_runs_output_is_refused(self, flow, table, tmp_path, monkeypatch,
                                            change, differ):
        arguments = {"estimator": flow, "features": table, "out": tmp_path / "cat",
                     "chunk_size": CHUNK, "progress": False}
        with monkeypatch.context() as patch:
            record_parts(patch, kill_after=1)
            with pytest.raises(_Killed):
                write_posterior_catalogue(**arguments)
        other = {"other": table.assign(x0=table["x0"] + 1),
                 "refitted": clone(flow).set_params(random_state=1).fit(
                     table[FEATURES], table[["x0", "x1"]].set_axis(
                         ["redshift", "log_mstar"], axis=1))}
        changed = {**arguments, **{k: other[v] if isinstance(v, str) else v
                                   for k, v in change.items()}}
        with pytest.raises(ValueError, match=f"another run \\(its {differ} differ\\)"):
            write_posterior_catalogue(**changed)
        written = record_parts(monkeypatch)
        write_posterior_catalogue(**changed, restart=True)  # unless told to start afresh
        assert [part for part, _ in written] == list(range(len(written)))
        assert read(tmp_path / "cat")["galaxy"].nunique() == N

    def test_a_folder_that_is_no_catalogue_is_left_alone(self, flow, table, tmp_path):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("precious")
        for restart in (False, True):
            with pytest.raises(ValueError, match="it holds files and no _catalogue.json"):
                write_posterior_catalogue(flow, table, tmp_path / "mine", restart=restart)
        assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


class Guarded:
    """Latents sliced by rows that refuse to give more than ``limit`` at once."""

    def __init__(self, data, limit):
        self.data, self.limit, self.shape, self.reads = data, limit, data.shape, []

    def __getitem__(self, rows):
        start, stop, _ = rows.indices(self.shape[0])
        if stop - start > self.limit:
            raise MemoryError(f"{stop - start} rows asked for at once")
        self.reads.append((start, stop))
        return self.data[rows]


class TestBoundedMemory:
    def test_never_more_than_a_chunk_is_read(self, flow, table, expected, tmp_path):
        source = Guarded(table[FEATURES].to_numpy(), CHUNK)
        out = write_posterior_catalogue(flow, source, tmp_path / "cat", chunk_size=CHUNK,
                                        progress=False)
        assert_same_summaries(read(out), expected)
        assert source.reads == [(0, 1), (0, 16), (16, 32), (32, 48), (48, 50)]

    def test_a_parquet_file_is_read_a_chunk_at_a_time(self, flow, table, tmp_path,
                                                      monkeypatch):
        table.to_parquet(tmp_path / "f.parquet", row_group_size=7)  # chunks span groups
        sizes = record_parts(monkeypatch)
        write_posterior_catalogue(flow, tmp_path / "f.parquet", tmp_path / "cat",
                                  chunk_size=CHUNK, progress=False)
        assert sizes == [(0, 16), (1, 16), (2, 16), (3, 2)]


class TestDask:
    @pytest.fixture(autouse=True)
    def _synchronous(self):
        dask = pytest.importorskip("dask")
        with dask.config.set(scheduler="synchronous"):
            yield

    def test_dask_array_gives_the_plain_catalogue(self, flow, table, tmp_path):
        import dask.array as da

        values = table[FEATURES].to_numpy()
        plain = write_posterior_catalogue(flow, values, tmp_path / "plain",
                                          chunk_size=CHUNK, progress=False)
        out = parallel.write_posterior_catalogue(
            flow, da.from_array(values, chunks=(CHUNK, 3)), tmp_path / "dask")
        pd.testing.assert_frame_equal(read(out), read(plain))

    def test_dask_dataframe_carries_index_and_identifiers(self, flow, table, expected,
                                                          tmp_path):
        import dask.dataframe as dd

        out = parallel.write_posterior_catalogue(
            flow, dd.from_pandas(table, npartitions=3), tmp_path / "cat.parquet")
        catalogue = read(out)
        assert_same_summaries(catalogue, expected)
        assert (catalogue["objid"] == "G" + catalogue["galaxy"].astype(str)).all()

    def test_a_failed_block_is_the_only_one_computed_again(self, flow, table, tmp_path,
                                                           monkeypatch):
        import dask.array as da

        X = da.from_array(table[FEATURES].to_numpy(), chunks=(CHUNK, 3))
        write = _catalogue._Catalogue.write_part

        def fails_on_part_1(self, part, *args):
            if part == 1:
                raise _Killed
            write(self, part, *args)

        with monkeypatch.context() as patch:
            patch.setattr(_catalogue._Catalogue, "write_part", fails_on_part_1)
            with pytest.raises(_Killed):
                parallel.write_posterior_catalogue(flow, X, tmp_path / "cat")
        kept = {int(p.stem[5:]) for p in (tmp_path / "cat").glob("part-*.parquet")}
        assert 1 not in kept  # the others ran before, or were stopped by, the failure
        written = record_parts(monkeypatch)
        parallel.write_posterior_catalogue(flow, X, tmp_path / "cat")
        assert sorted(part for part, _ in written) == sorted({0, 1, 2, 3} - kept)
        assert read(tmp_path / "cat")["galaxy"].tolist() == np.repeat(range(N), 2).tolist()

    def test_the_plain_writer_points_to_the_dask_path(self, flow, table, tmp_path):
        import dask.array as da

        with pytest.raises(TypeError, match="parallel.write_posterior_catalogue"):
            write_posterior_catalogue(flow, da.from_array(table[FEATURES].to_numpy()),
                                      tmp_path / "cat")
