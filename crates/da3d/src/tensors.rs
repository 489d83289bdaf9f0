//! Tensor I/O: matrices onto a device in batches, reads back, and networks from one device to
//! another.
//!
//! Every read-back is written once, asynchronously ([`read`]): WebGPU allows no other. Native
//! callers drive a future to its end with [`wait`] (it blocks until the device is done; in the
//! browser it succeeds only where the value is ready at once, as on the CPU backend).

use std::future::Future;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::Networks;

/// The name a model trained on burn's pure-Rust CPU backend (`Device::flex()`) records as its
/// backend, whichever front end trained it.
pub const CPU_BACKEND: &str = "cpu (flex)";

/// Rows per batch when a matrix goes to a device (scoring, the frozen AAE's outputs).
pub const SCORE_BATCH: usize = 4096;

/// The result of `future`, waiting for it: natively it blocks until the device has computed it;
/// in the browser only a value ready at once (the CPU backend) can be waited for, WebGPU's must
/// be awaited.
pub fn wait<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    burn::tensor::try_read_sync(future)
        .unwrap_or_else(|| Err(Error::Backend("this read-back must be awaited here (WebGPU): use the async call".into())))
}

/// Upload rows `[start, end)` of a matrix as a `[rows, cols]` tensor.
pub(crate) fn upload(x: &Matrix, start: usize, end: usize, device: &Device) -> Tensor<2> {
    let values = x.values[start * x.cols..end * x.cols].to_vec();
    Tensor::from_data(TensorData::new(values, [end - start, x.cols]), device)
}

/// The rows of `x` uploaded in batches of `SCORE_BATCH`, one batch as the iterator is advanced.
pub(crate) fn batches<'a>(x: &'a Matrix, device: &'a Device) -> impl Iterator<Item = Tensor<2>> + 'a {
    (0..x.rows).step_by(SCORE_BATCH).map(move |start| upload(x, start, (start + SCORE_BATCH).min(x.rows), device))
}

/// `f` applied to the rows of `x` in batches of `SCORE_BATCH`, concatenated; `None` for no rows.
/// Nothing is read back.
pub(crate) fn in_batches<const D: usize>(
    x: &Matrix,
    device: &Device,
    f: impl Fn(Tensor<2>) -> Tensor<D>,
) -> Option<Tensor<D>> {
    let parts: Vec<_> = batches(x, device).map(f).collect();
    if parts.is_empty() { None } else { Some(Tensor::cat(parts, 0)) }
}

/// Read a float tensor back: its values, row-major.
pub(crate) async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.into_data_async().await.map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))
}

struct ParamCollector(Vec<(burn::module::ParamId, Tensor<1>, Vec<usize>)>);

impl burn::module::ModuleVisitor for ParamCollector {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        let n: usize = dims.iter().product();
        self.0.push((param.id, t.reshape([n]), dims));
    }
}

struct ParamReplacer(std::collections::HashMap<burn::module::ParamId, (Vec<f32>, Vec<usize>)>, Device);

impl burn::module::ModuleMapper for ParamReplacer {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        let id = param.id;
        match self.0.remove(&id) {
            Some((values, dims)) => {
                let device = self.1.clone();
                param.map(move |_| Tensor::from_data(TensorData::new(values, dims), &device))
            }
            None => param,
        }
    }
}

/// Copy networks to another device reading every weight asynchronously: the way to get a
/// WebGPU-trained model onto the CPU (for bundle export) without blocking reads.
pub async fn networks_to_device(networks: &Networks, device: &Device) -> Result<Networks> {
    let mut collector = ParamCollector(Vec::new());
    networks.visit(&mut collector);
    let mut values = std::collections::HashMap::new();
    for (id, t, dims) in collector.0 {
        values.insert(id, (read(t).await?, dims));
    }
    // Every parameter is replaced by its copy on `device`; nothing is read synchronously.
    Ok(networks.clone().valid().map(&mut ParamReplacer(values, device.clone())))
}
