//! Tensor I/O: matrices onto a device in batches, and reads back (blocking on native backends,
//! asynchronous for WebGPU), and networks from one device to another.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::SCORE_BATCH;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::Networks;

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

/// Read a float tensor back (blocking; native backends).
pub(crate) fn read_sync<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))
}

/// Read a float tensor back asynchronously (the only read WebGPU allows).
pub(crate) async fn read_async<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
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
pub async fn networks_to_device_async(networks: &Networks, device: &Device) -> Result<Networks> {
    let mut collector = ParamCollector(Vec::new());
    networks.visit(&mut collector);
    let mut values = std::collections::HashMap::new();
    for (id, t, dims) in collector.0 {
        values.insert(id, (read_async(t).await?, dims));
    }
    // Every parameter is replaced by its copy on `device`; nothing is read synchronously.
    Ok(networks.clone().valid().map(&mut ParamReplacer(values, device.clone())))
}
